"""The hub's web pages in Spanish and English: message catalogue and language choice.

Same approach as the publication report (:mod:`cifranegra.report.i18n`): one set of templates
(``templates/hub/*.html``) reads every sentence from :data:`MESSAGES` through ``t(key, **values)``; a test
keeps the two catalogues' keys equal. Dates use the report's :func:`cifranegra.report.i18n.format_date`.

The language of a request (:func:`choose_lang`): ``?lang=es|en``, then the ``hub_lang`` cookie (set when
``?lang`` is given), then the browser's ``Accept-Language``, else Spanish — the hub's first users are
Mexican agencies.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from cifranegra.report.i18n import format_date

LANGS = ("es", "en")
DEFAULT_LANG = "es"
LANG_COOKIE = "hub_lang"

MESSAGES: dict[str, dict[str, str]] = {
    "es": {
        "hub": "cifranegra — centro de estimación",
        "skip": "Ir al contenido",
        "nav_main": "Navegación principal",
        "nav_home": "Inicio",
        "nav_releases": "Publicaciones",
        "nav_login": "Iniciar sesión",
        "logout": "Cerrar sesión",
        "signed_in_as": "Sesión de {user} ({role})",
        "language": "Idioma",
        "lang_es": "Español",
        "lang_en": "English",
        "footer": "Solo se publican estadísticas con control de divulgación; ningún dato a nivel de registro sale "
                  "del servidor.",
        # roles
        "role_hub_admin": "administración del centro",
        "role_coordinator": "coordinación",
        "role_analyst": "análisis",
        "role_approver": "aprobación",
        "role_agency_submitter": "envío de la institución",
        "role_auditor": "auditoría",
        # login
        "login_title": "Iniciar sesión",
        "login_intro": "Cada institución, coordinación y persona que aprueba tiene su propia cuenta. El público "
                       "no necesita cuenta para ver las publicaciones.",
        "username": "Usuario",
        "password": "Contraseña",
        "login_button": "Entrar",
        "login_failed": "Usuario o contraseña incorrectos, o la cuenta está desactivada.",
        "login_locked": "Demasiados intentos fallidos para esta cuenta: espere 15 minutos e inténtelo de nuevo.",
        "logged_out": "Cerró su sesión.",
        # generic
        "study": "Estudio",
        "studies": "Estudios",
        "agency": "Institución",
        "agencies": "Instituciones",
        "users": "Cuentas",
        "role": "Rol",
        "state": "Estado",
        "created": "Creado",
        "records": "Registros",
        "actions": "Acciones",
        "none_yet": "Todavía no hay ninguno.",
        "back": "Volver",
        "yes": "sí",
        "no": "no",
        # states
        "state_accepted": "aceptado",
        "state_withdrawn": "retirado",
        "state_queued": "en cola",
        "state_running": "en proceso",
        "state_succeeded": "terminado",
        "state_failed": "falló",
        "state_draft": "borrador",
        "state_approved": "aprobado",
        # hub admin
        "admin_title": "Administración del centro",
        "admin_intro": "Las cuentas, las instituciones y las llaves son de esta función; el contenido de los "
                       "envíos, corridas y publicaciones no.",
        "admin_use_api": "Las cuentas y las instituciones también se crean con la API (POST /api/v1/users, "
                         "POST /api/v1/agencies); véase docs/hub.md.",
        "new_agency": "Nueva institución",
        "agency_name": "Nombre de la institución (el «--source» con el que codifica)",
        "agency_created": "Institución registrada.",
        "new_user": "Nueva cuenta",
        "user_study_help": "Análisis, aprobación y envío trabajan en un estudio; el envío, además, para una "
                           "institución. Coordinación, auditoría y administración no llevan ni uno ni otro.",
        "none_option": "— ninguno —",
        "user_created": "Cuenta creada.",
        "user_fields": "Llene usuario, contraseña y rol.",
        # agency
        "agency_title": "Envíos de {agency}",
        "agency_intro": "Envíe la lista de su institución ya codificada con «cifranegra encode» en su propia "
                        "computadora: el centro recibe solo las codificaciones, nunca nombres ni CURP.",
        "submit_title": "Enviar un archivo",
        "file": "Archivo codificado (.parquet)",
        "file_help": "El archivo escrito por: cifranegra encode LISTA --project {study} --source \"{agency}\" "
                     "--secret-file F -o SALIDA.parquet",
        "check_button": "Revisar sin enviar",
        "submit_button": "Enviar",
        "dry_run_ok": "El archivo pasó la revisión: {n} registros. No se guardó nada; elija el archivo de nuevo y "
                      "pulse «Enviar» para enviarlo.",
        "refused": "El archivo fue rechazado. Corrija lo siguiente y vuelva a intentarlo:",
        "warnings": "Advertencias (el archivo se acepta):",
        "no_problems": "Sin problemas.",
        "submitted": "Archivo recibido: {n} registros.",
        "submitted_again": "Este archivo ya se había recibido; no se guardó dos veces.",
        "no_file": "Elija un archivo.",
        "own_submissions": "Envíos de su institución",
        "withdraw_button": "Retirar",
        "withdraw_label": "Retirar el envío del {date}",
        "withdrawn_done": "Envío retirado: el archivo y su llave se destruyeron.",
        "sha256": "SHA-256",
        "source": "Lista",
        "problems": "Problemas",
        # coordinator
        "studies_title": "Estudios",
        "studies_intro": "Un estudio reúne las listas codificadas de varias instituciones. Su nombre es el "
                         "«--project» con el que cada institución codifica.",
        "new_study": "Nuevo estudio",
        "study_name": "Nombre del estudio",
        "create_button": "Crear",
        "study_created": "Estudio creado.",
        "study_title": "Estudio {study}",
        "participants": "Participantes",
        "participants_none": "Todavía no hay instituciones con cuenta en este estudio.",
        "submissions": "Envíos",
        "runs": "Corridas",
        "start_run": "Iniciar una corrida",
        "start_run_help": "La corrida vincula y estima con todos los envíos aceptados de este momento.",
        "run_started": "Corrida en cola.",
        "progress": "Avance",
        "step": "Paso",
        "message": "Mensaje",
        "run_title": "Corrida {run}",
        "run_refresh": "Esta página se actualiza sola cada pocos segundos mientras la corrida avanza.",
        "internal": "Resultados internos",
        "internal_intro": "Tablas sin supresión y diagnósticos, solo para el análisis del estudio; nunca datos "
                          "a nivel de registro. No se publican.",
        "releases": "Publicaciones",
        "draft_release": "Preparar una publicación",
        "release_title_label": "Título de la publicación",
        "draft_button": "Preparar borrador",
        "drafted": "Borrador preparado; otra persona debe aprobarlo.",
        "run": "Corrida",
        # approver
        "review_title": "Revisar y aprobar",
        "review_intro": "Cada publicación necesita a dos personas: no puede aprobar una publicación que usted "
                        "preparó ni una corrida que usted inició.",
        "approve_button": "Aprobar y publicar",
        "approve_label": "Aprobar y publicar «{title}»",
        "approved_done": "Publicación aprobada: ya es pública.",
        "withdraw_release": "Retirar",
        "withdraw_reason": ("Motivo (público si la publicación fue aprobada: qué estaba mal en las cifras, nunca "
                            "nada sobre una persona)"),
        "withdrawn_release_done": "Publicación retirada: su contenido se destruyó.",
        "withdrawn_notice": "Esta publicación fue retirada el {when}. Motivo: {reason}",
        "withdrawn_at": "Retirada",
        "drafted_by": "Preparado por",
        # public
        "releases_title": "Publicaciones",
        "releases_intro": "Estimaciones aprobadas, con control de divulgación: los conteos de 1 a 10 se "
                          "reservan y las estimaciones se redondean.",
        "releases_none": "Todavía no hay publicaciones.",
        "approved_at": "Aprobada",
        "files": "Archivos",
        "report_link": "Informe completo con gráficas ({fmt})",
        "table_caption": "Cuadro: {name}",
        "charts": "Gráficas",
        "more_tables": "Todos los cuadros",
        "download": "Descargar {name}",
        # auditor
        "audit_title": "Bitácora de auditoría",
        "audit_intro": "Cada solicitud que lee o cambia datos queda registrada, encadenada por hash: una fila "
                       "borrada o alterada se detecta.",
        "audit_ok": "Cadena íntegra: {n} entradas verificadas.",
        "audit_bad": "¡Cadena rota! Primera entrada alterada o faltante: {first}.",
        "audit_export": "Exportar CSV",
        "at": "Fecha",
        "actor": "Quién",
        "action": "Qué",
        "target": "Objeto",
        "client": "Desde",
        "outcome": "Resultado",
        "status": "Código",
        # errors
        "error_title": "Error {status}",
        "error_400": "La solicitud no es válida.",
        "error_401": "Inicie sesión para ver esta página.",
        "error_403": "Su cuenta no puede usar esta página.",
        "error_404": "No existe, o su cuenta no trabaja con ello.",
        "error_409": "La acción no es posible en el estado actual.",
        "error_413": "El archivo es más grande de lo que este centro acepta.",
        "error_422": "Los datos enviados no son válidos.",
        "csrf_failed": "El formulario caducó o no viene de esta página. Vuelva a cargar la página e inténtelo "
                       "de nuevo.",
    },
    "en": {
        "hub": "cifranegra — estimation hub",
        "skip": "Skip to content",
        "nav_main": "Main navigation",
        "nav_home": "Home",
        "nav_releases": "Releases",
        "nav_login": "Log in",
        "logout": "Log out",
        "signed_in_as": "Signed in as {user} ({role})",
        "language": "Language",
        "lang_es": "Español",
        "lang_en": "English",
        "footer": "Only disclosure-controlled statistics are published; no record-level data leaves the server.",
        "role_hub_admin": "hub administration",
        "role_coordinator": "coordination",
        "role_analyst": "analysis",
        "role_approver": "approval",
        "role_agency_submitter": "agency submission",
        "role_auditor": "audit",
        "login_title": "Log in",
        "login_intro": "Every agency, coordinator and approver has an account of their own. The public needs no "
                       "account to see the releases.",
        "username": "Username",
        "password": "Password",
        "login_button": "Log in",
        "login_failed": "Wrong username or password, or the account is disabled.",
        "login_locked": "Too many failed logins for this account: wait 15 minutes and try again.",
        "logged_out": "You are logged out.",
        "study": "Study",
        "studies": "Studies",
        "agency": "Agency",
        "agencies": "Agencies",
        "users": "Accounts",
        "role": "Role",
        "state": "State",
        "created": "Created",
        "records": "Records",
        "actions": "Actions",
        "none_yet": "None yet.",
        "back": "Back",
        "yes": "yes",
        "no": "no",
        "state_accepted": "accepted",
        "state_withdrawn": "withdrawn",
        "state_queued": "queued",
        "state_running": "running",
        "state_succeeded": "finished",
        "state_failed": "failed",
        "state_draft": "draft",
        "state_approved": "approved",
        "admin_title": "Hub administration",
        "admin_intro": "Accounts, agencies and keys belong to this role; the content of submissions, runs and "
                       "releases does not.",
        "admin_use_api": "Accounts and agencies can also be created with the API (POST /api/v1/users, "
                         "POST /api/v1/agencies); see docs/hub.md.",
        "new_agency": "New agency",
        "agency_name": "Agency name (the `--source` it encodes with)",
        "agency_created": "Agency registered.",
        "new_user": "New account",
        "user_study_help": "Analysis, approval and agency submission work on one study; a submission account "
                           "also for one agency. Coordination, audit and administration have neither.",
        "none_option": "— none —",
        "user_created": "Account created.",
        "user_fields": "Fill in the username, password and role.",
        "agency_title": "Submissions of {agency}",
        "agency_intro": "Submit your agency's list already encoded with `cifranegra encode` on your own computer: "
                        "the hub receives only the encodings, never names or CURPs.",
        "submit_title": "Submit a file",
        "file": "Encoded file (.parquet)",
        "file_help": "The file written by: cifranegra encode LIST --project {study} --source \"{agency}\" "
                     "--secret-file F -o OUT.parquet",
        "check_button": "Check without submitting",
        "submit_button": "Submit",
        "dry_run_ok": "The file passed the checks: {n} records. Nothing was kept; choose the file again and press "
                      "“Submit” to send it.",
        "refused": "The file was refused. Fix the following and try again:",
        "warnings": "Warnings (the file is accepted):",
        "no_problems": "No problems.",
        "submitted": "File received: {n} records.",
        "submitted_again": "This file had been received already; it was not stored twice.",
        "no_file": "Choose a file.",
        "own_submissions": "Your agency's submissions",
        "withdraw_button": "Withdraw",
        "withdraw_label": "Withdraw the submission of {date}",
        "withdrawn_done": "Submission withdrawn: its file and key were destroyed.",
        "sha256": "SHA-256",
        "source": "List",
        "problems": "Problems",
        "studies_title": "Studies",
        "studies_intro": "A study brings together the encoded lists of several agencies. Its name is the "
                         "`--project` each agency encodes with.",
        "new_study": "New study",
        "study_name": "Study name",
        "create_button": "Create",
        "study_created": "Study created.",
        "study_title": "Study {study}",
        "participants": "Participants",
        "participants_none": "No agency has an account in this study yet.",
        "submissions": "Submissions",
        "runs": "Runs",
        "start_run": "Start a run",
        "start_run_help": "The run links and estimates with every submission accepted at this moment.",
        "run_started": "Run queued.",
        "progress": "Progress",
        "step": "Step",
        "message": "Message",
        "run_title": "Run {run}",
        "run_refresh": "This page refreshes itself every few seconds while the run is in progress.",
        "internal": "Internal results",
        "internal_intro": "Unsuppressed tables and diagnostics, for the study's analysis only; never record-level "
                          "data. Not published.",
        "releases": "Releases",
        "draft_release": "Draft a release",
        "release_title_label": "Release title",
        "draft_button": "Draft",
        "drafted": "Draft ready; another person must approve it.",
        "run": "Run",
        "review_title": "Review and approve",
        "review_intro": "Every release needs two people: you cannot approve a release you drafted or one whose "
                        "run you started.",
        "approve_button": "Approve and publish",
        "approve_label": "Approve and publish “{title}”",
        "approved_done": "Release approved: it is public now.",
        "withdraw_release": "Withdraw",
        "withdraw_reason": ("Reason (public if the release was approved: what was wrong with the figures, never "
                            "anything about a person)"),
        "withdrawn_release_done": "Release withdrawn: its content was destroyed.",
        "withdrawn_notice": "This release was withdrawn on {when}. Reason: {reason}",
        "withdrawn_at": "Withdrawn",
        "drafted_by": "Drafted by",
        "releases_title": "Releases",
        "releases_intro": "Approved, disclosure-controlled estimates: counts from 1 to 10 are withheld and "
                          "estimates are rounded.",
        "releases_none": "No releases yet.",
        "approved_at": "Approved",
        "files": "Files",
        "report_link": "Full report with charts ({fmt})",
        "table_caption": "Table: {name}",
        "charts": "Charts",
        "more_tables": "All tables",
        "download": "Download {name}",
        "audit_title": "Audit log",
        "audit_intro": "Every request that reads or changes data is recorded, hash-chained: a removed or altered "
                       "row is detected.",
        "audit_ok": "Chain intact: {n} entries verified.",
        "audit_bad": "Chain broken! First altered or missing entry: {first}.",
        "audit_export": "Export CSV",
        "at": "When",
        "actor": "Who",
        "action": "What",
        "target": "Target",
        "client": "From",
        "outcome": "Outcome",
        "status": "Status",
        "error_title": "Error {status}",
        "error_400": "The request is not valid.",
        "error_401": "Log in to see this page.",
        "error_403": "Your account may not use this page.",
        "error_404": "It does not exist, or your account does not work on it.",
        "error_409": "That is not possible in the current state.",
        "error_413": "The file is larger than this hub accepts.",
        "error_422": "The data sent are not valid.",
        "csrf_failed": "The form has expired or did not come from this page. Reload the page and try again.",
    },
}


def choose_lang(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The page's language: ``?lang``, then the cookie, then ``Accept-Language`` (by its q weights), else es."""
    for candidate in (query, cookie):
        if candidate in LANGS:
            return candidate
    best, best_q = DEFAULT_LANG, -1.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        base = tag.strip().lower().split("-")[0]
        if base not in LANGS:
            continue
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        if q > best_q:
            best, best_q = base, q
    return best


def translator(lang: str) -> Mapping[str, str]:
    """The catalogue of ``lang`` (one of :data:`LANGS`; anything else gives Spanish)."""
    return MESSAGES.get(lang, MESSAGES[DEFAULT_LANG])


def text(lang: str, key: str, **values: object) -> str:
    """The message ``key`` in ``lang`` with ``values`` filled in; an unknown key is a bug (KeyError)."""
    message = translator(lang)[key]
    return message.format(**values) if values else message


def format_when(moment: dt.datetime | str | None, lang: str) -> str:
    """A timestamp as a reader of ``lang`` writes it, in UTC: "4 de diciembre de 2026, 13:50 UTC"."""
    if moment is None or moment == "":
        return "—"
    if isinstance(moment, str):
        raw = moment
        try:
            moment = dt.datetime.fromisoformat(raw)
        except ValueError:
            return raw
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc)
    return f"{format_date(moment.date(), lang)}, {moment:%H:%M} UTC"
