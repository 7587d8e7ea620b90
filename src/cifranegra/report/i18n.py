"""Message catalogues of the publication report (Spanish and English) and locale formats.

One set of templates (``templates/report.html.j2``) reads every sentence from :data:`MESSAGES`; numbers go
through :func:`cifranegra.report.charts.format_number` (``es_MX`` and ``en`` both write 12,345.6) and dates
through :func:`format_date` (``es_MX``: "5 de marzo de 2025"; ``en``: "5 March 2025"). Chart labels live
in :data:`cifranegra.report.charts.CATALOGUE`. A test keeps the two catalogues' keys equal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from cifranegra.errors import InputError

LANGS = ("es", "en")

_MONTHS_ES = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
              "noviembre", "diciembre")
_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
              "November", "December")

MESSAGES: dict[str, dict[str, Any]] = {
    "en": {
        "html_lang": "en",
        "default_title": "Estimated number of victims of human trafficking",
        "subtitle": "Multiple systems estimation from overlapping agency lists",
        "prepared_by": "Prepared by",
        "reference_period": "Reference period",
        "published": "Produced on",
        "software": "Software",
        "toc": "Contents",
        "headline": "Headline",
        "headline_intro": "The estimated total counts victims who were detected by at least one list and those "
                          "who were not. Estimates are rounded to the nearest {round_to} ({round_large_to} above "
                          "{large_above}).",
        "year": "Year",
        "stratum": "Stratum",
        "detected": "Unique detected victims",
        "estimated_total": "Estimated total",
        "interval": "{level} interval",
        "undetected": "Estimated undetected",
        "ratio": "Total / detected",
        "rate": "Rate per 100,000",
        "rate_interval": "Rate interval",
        "population": "Population (CONAPO)",
        "method": "Method",
        "all_period": "whole period",
        "all_persons": "everyone (pooled estimate)",
        "includes": "What the interval includes",
        "unc_sampling": "sampling variability",
        "unc_model": "model selection",
        "unc_linkage": "record linkage",
        "included": "included",
        "not_included": "not included",
        "not_included_pl": "not included",
        "unc_model_note_yes": "each bootstrap replicate or posterior draw chooses or weighs the model again",
        "unc_model_note_no": "the interval is conditional on the chosen model",
        "unc_linkage_note": "the linkage is taken as fixed; see the linkage sensitivity below",
        "unc_linkage_note_yes": "the estimate combines many plausible linkages drawn from the record-pair "
                                "probabilities (Rubin's rules); linkage accounts for {share}% of its variance",
        "unc_unreached": "victims no list is likely to reach",
        "unc_unreached_note": "they leave no trace in the lists' overlaps, so no method can count them: if some "
                              "victims are out of reach of every agency, the estimate and its interval are a "
                              "lower bound",
        "lower_bound": "Read the estimate as a lower bound",
        "lower_bound_text": "The estimate counts the victims whom the overlaps between the lists can reveal. When "
                            "some victims are hard for every agency to reach (fear, isolation, a trafficker who "
                            "keeps them hidden), they are missing from the overlaps as well as from the lists, and "
                            "no method can count them. In simulations of Mexican agencies' lists with such "
                            "victims, every method fell short of the true number and its 95% interval missed it "
                            "in most populations. The true number of victims is therefore likely to be higher "
                            "than the estimate, and may be above its interval.",
        "rate_note": "Rates divide the published (rounded) estimate and its interval by CONAPO's mid-year "
                     "population ({source}, {year} edition); the population is treated as known.",
        "strata_rate_note": "A stratum's rate is per 100,000 people of that stratum's population: per 100,000 "
                            "women for women, per 100,000 people under 18 for minors, per 100,000 residents "
                            "of a state for that state.",
        "no_rate": "No rate: {why}",
        "not_estimable": "not estimable",
        "withheld_secondary": "[c]",
        "withheld_note": "<{threshold}: a count from 1 to {below} withheld to protect the people counted; [c]: "
                         "withheld so that another withheld count cannot be recomputed; n.e.: not estimable "
                         "(reason given).",
        "strata": "Estimates by stratum",
        "strata_none": "The run was not stratified: there are no estimates by stratum.",
        "reason": "Reason",
        "reason_unknown_stratum": "not recorded: these persons count in the pooled estimate and, in the stratified "
                                  "total, are shared out in proportion to the strata's observed counts",
        "stratified_total": "stratified total (sum of the strata)",
        "stratified_note": "The stratified total adds the strata's own estimates (persons whose stratum was not "
                           "recorded, if any, are shared out in proportion to the strata's observed counts); the "
                           "pooled estimate fits one model to everyone. A large gap between the two may mean that "
                           "capture differs between strata.",
        "sources": "Sources",
        "sources_intro": "Each list is one agency's register of victims; a person may appear on several lists.",
        "list": "List",
        "records": "Records",
        "persons": "Persons (after linkage)",
        "definition": "Definition",
        "period": "Period",
        "not_given": "not given in the project",
        "share_curp": "With CURP",
        "share_full_name": "With full name",
        "share_birth_date": "With birth date",
        "id_share_note": "Shares of each list's records with a valid CURP, a full name (given name and first "
                         "surname) and a complete birth date: the identifiers the linkage can use. Computed from "
                         "the published counts; a share whose counts are withheld is shown as the count.",
        "id_share_missing": "This run did not count the records with each identifier (encoded lists, or a run "
                            "made before they were counted), so the shares are not shown.",
        "linkage": "Record linkage",
        "linkage_text": "{records} records from {lists} lists were linked into {persons} persons ({method}). "
                        "{clusters}",
        "cluster_sizes": "Persons by number of lists they appear on: {sizes}.",
        "linkage_sensitivity": "Estimate at other linkage thresholds",
        "method_names": {
            "loglinear": "log-linear models", "independence": "independence model", "mt": "independence model",
            "chao": "Chao's lower bound", "saturated": "saturated log-linear model", "petersen": "Lincoln–Petersen",
            "chapman": "Chapman", "m0": "model M0", "mh-chao": "model Mh, Chao", "mh-poisson2": "model Mh, Poisson 2",
            "mh-darroch": "model Mh, Darroch", "mh-gamma3.5": "model Mh, Gamma 3.5", "mth-chao": "model Mth, Chao",
            "mth-poisson2": "model Mth, Poisson 2", "mth-darroch": "model Mth, Darroch",
            "mth-gamma3.5": "model Mth, Gamma 3.5", "lcmcr": "Bayesian latent classes",
            "dga": "Bayesian graphical-model averaging", "sample-coverage": "sample coverage",
        },
        "linkage_sensitivity_single": "Point estimates from one linkage at each threshold. The headline estimate "
        "combines several imputed linkages, so at the run's own threshold the two can differ slightly.",
        "linkage_sensitivity_none": "No linkage sensitivity was computed in this run.",
        "threshold": "Threshold",
        "overlaps": "Overlaps between lists",
        "overlaps_intro": "People in each combination of lists (national table; counts below {threshold} "
                          "withheld).",
        "pattern_table": "Capture patterns",
        "sdg": "SDG 16.2.2: detected victims by sex, age and form of exploitation",
        "sdg_intro": "Unique detected persons (not estimates). Forms of exploitation follow the UNODC categories "
                     "through the crosswalk of Mexican law art. 10; a person recorded with forms in more than one "
                     "category is counted under \"other\".",
        "sex": "Sex",
        "age_group": "Age",
        "exploitation": "Form of exploitation",
        "state": "State",
        "count": "Persons",
        "models": "Model selection",
        "models_intro": "The best models by the selection criterion ({criterion}); ΔBIC is the difference from "
                        "the best. The chosen model is marked.",
        "models_none": "This method does not rank models ({method}).",
        "models_combined": "This estimate combines the estimates of several imputed linkages, each with its own "
        "model selection ({method}); no single ranking of models applies to it.",
        "model": "Model",
        "delta_bic": "ΔBIC",
        "chosen": "chosen",
        "estimators": "Estimator comparison",
        "estimators_one": "Only one estimator was run ({methods}); run `cifranegra compare` or list several "
                          "methods in the project file to compare them.",
        "drop_one": "Drop-one-list sensitivity",
        "drop_one_text": "The estimate of {method} with each list left out in turn (point estimates, rounded); "
                         "a large change shows which list drives the estimate. Left-out scenarios with fewer "
                         "lists or persons than the publication minimums are not estimable.",
        "drop_one_all": "all lists",
        "drop_one_without": "without {list}",
        "drop_one_none": "This run has no drop-one-list estimates.",
        "by_state": "By state",
        "by_state_none": "No map: the run was not stratified by state, so there is no estimate for any state.",
        "distribution": "Distribution of the estimate",
        "distribution_none": "No bootstrap replicates or posterior draws of this estimate were kept ({method}), so "
                             "its distribution is not shown.",
        "fit": "Goodness of fit",
        "fit_text": "Observed against fitted count of each capture pattern under the chosen model ({model}); "
                    "points near the diagonal fit well. Deviance {deviance} on {df} degrees of freedom.",
        "fit_withheld": "The goodness-of-fit plot is not published: {withheld} capture-pattern count(s) are "
                        "withheld, and the fitted counts would let a reader recompute them.",
        "fit_none": "No goodness-of-fit plot: {why}.",
        "sdg_none": "The run's records carry none of sex, age and form of exploitation.",
        "context": "Official counts as context",
        "context_intro": "Official counts are detected (identified) victims recorded by the authorities; they "
                         "are not prevalence and are not comparable one to one with the lists used here.",
        "official_sesnsp": "SESNSP: victims of trafficking (state prosecutors)",
        "official_government": "Identified victims (US TIP report, federal + state)",
        "methods": "Methods and limitations",
        "methods_text": [
            "Multiple systems estimation compares who appears on which list. If the lists overlap little, many "
            "victims are likely to be missing from all of them; if they overlap a lot, few are.",
            "Closed population: everyone counted could have been on any list during the reference period. People "
            "who entered or left during the period weaken this assumption.",
            "List dependence: lists that refer victims to each other overlap more than chance. The log-linear "
            "models include such dependences between lists when the data support them; dependences the data "
            "cannot reveal (the same people being hard to reach by every list) bias the estimate downwards.",
            "Record linkage: the lists were linked into persons without a common identifier for everyone. Missed "
            "links inflate the estimate, false links deflate it; the linkage sensitivity shows how much.",
            "What the interval leaves out: the error of the population projection used for the rates, any bias "
            "from the assumptions above (above all the victims no list reaches), and the linkage error unless "
            "the headline says the interval includes it.",
        ],
        "estimator_text": "Estimator: {method}; model selection: {selection}; interval: {interval}.",
        "disclosure": "Disclosure control",
        "disclosure_text": "Counts from 1 to {below} are withheld (primary suppression); further counts are "
                           "withheld across all tables released together so that no withheld count can be "
                           "recomputed (secondary suppression by Gaussian elimination). An audit by linear "
                           "programming checked that every withheld count keeps a range of at least {width}: "
                           "{result}. Estimates are rounded and not published for strata with fewer than "
                           "{min_observed} observed persons or fewer than {min_lists} lists with records.",
        "audit_passed": "passed ({withheld} of {cells} cells withheld)",
        "audit_failed": "FAILED",
        "figure": "Figure",
        "table": "Table",
        "total": "Total",
        "yes": "yes",
        "no": "no",
        "female": "Female",
        "male": "Male",
        "unknown": "Unknown",
        "sexual": "Sexual exploitation",
        "labour": "Forced labour",
        "other": "Other forms",
        "0-17": "0–17",
        "18+": "18+",
        "footer": "Produced with cifranegra {version}. Only disclosure-controlled tables are published; no "
                  "record-level data.",
    },
    "es": {
        "html_lang": "es-MX",
        "default_title": "Número estimado de víctimas de trata de personas",
        "subtitle": "Estimación de sistemas múltiples a partir de listas institucionales que se traslapan",
        "prepared_by": "Elaborado por",
        "reference_period": "Periodo de referencia",
        "published": "Elaborado el",
        "software": "Programa",
        "toc": "Contenido",
        "headline": "Resultados principales",
        "headline_intro": "El total estimado cuenta a las víctimas detectadas por al menos una lista y a las que "
                          "no lo fueron. Las estimaciones se redondean al múltiplo de {round_to} más cercano "
                          "(de {round_large_to} por encima de {large_above}).",
        "year": "Año",
        "stratum": "Estrato",
        "detected": "Víctimas detectadas (personas distintas)",
        "estimated_total": "Total estimado",
        "interval": "Intervalo de {level}",
        "undetected": "Víctimas no detectadas (estimación)",
        "ratio": "Total / detectadas",
        "rate": "Tasa por 100,000",
        "rate_interval": "Intervalo de la tasa",
        "population": "Población (CONAPO)",
        "method": "Método",
        "all_period": "todo el periodo",
        "all_persons": "todas las personas (estimación conjunta)",
        "includes": "Qué incluye el intervalo",
        "unc_sampling": "variabilidad muestral",
        "unc_model": "selección del modelo",
        "unc_linkage": "vinculación de registros",
        "included": "incluida",
        "not_included": "no incluida",
        "not_included_pl": "no incluidas",
        "unc_model_note_yes": ("cada réplica bootstrap o extracción de la distribución a posteriori vuelve a "
                               "elegir o ponderar el modelo"),
        "unc_model_note_no": "el intervalo es condicional al modelo elegido",
        "unc_linkage_note": "la vinculación se toma como fija; véase la sensibilidad de la vinculación",
        "unc_linkage_note_yes": "la estimación combina muchas vinculaciones plausibles extraídas de las "
                                "probabilidades de los pares de registros (reglas de Rubin); la vinculación "
                                "explica el {share}% de su varianza",
        "unc_unreached": "víctimas que ninguna lista suele alcanzar",
        "unc_unreached_note": "no dejan rastro en las coincidencias entre listas, así que ningún método puede "
                              "contarlas: si algunas víctimas están fuera del alcance de todas las instituciones, "
                              "la estimación y su intervalo son una cota inferior",
        "lower_bound": "La estimación es una cota inferior",
        "lower_bound_text": "La estimación cuenta a las víctimas que las coincidencias entre listas pueden revelar. "
                            "Cuando algunas víctimas son difíciles de alcanzar para todas las instituciones (miedo, "
                            "aislamiento, un tratante que las mantiene ocultas), faltan tanto en las coincidencias "
                            "como en las listas, y ningún método puede contarlas. En simulaciones de listas de "
                            "instituciones mexicanas con víctimas así, todos los métodos quedaron por debajo del "
                            "número verdadero y su intervalo de 95% no lo incluyó en la mayoría de las "
                            "poblaciones. Por eso es probable que el número verdadero de víctimas sea mayor que la "
                            "estimación, y puede estar por encima de su intervalo.",
        "rate_note": "Las tasas dividen la estimación publicada (redondeada) y su intervalo entre la población a "
                     "mitad de año de CONAPO ({source}, edición {year}); la población se toma como conocida.",
        "strata_rate_note": "La tasa de un estrato es por cada 100,000 personas de la población de ese estrato: por "
                            "cada 100,000 mujeres para las mujeres, por cada 100,000 personas menores de 18 años "
                            "para las menores de edad, por cada 100,000 habitantes de un estado para ese estado.",
        "no_rate": "Sin tasa: {why}",
        "not_estimable": "no estimable",
        "withheld_secondary": "[c]",
        "withheld_note": "<{threshold}: conteo de 1 a {below} reservado para proteger a las personas contadas; "
                         "[c]: reservado para que otro conteo reservado no pueda recalcularse; n.e.: no estimable "
                         "(se indica el motivo).",
        "strata": "Estimaciones por estrato",
        "strata_none": "La corrida no se estratificó: no hay estimaciones por estrato.",
        "reason": "Motivo",
        "reason_unknown_stratum": "no registrado: estas personas se cuentan en la estimación conjunta y, en el total "
                                  "estratificado, se reparten en proporción a los conteos observados de cada estrato",
        "stratified_total": "total estratificado (suma de los estratos)",
        "stratified_note": "El total estratificado suma las estimaciones de cada estrato (las personas sin estrato "
                           "registrado, si las hay, se reparten en proporción a los conteos observados de cada "
                           "estrato); la estimación conjunta ajusta un solo modelo para todas las personas. Una "
                           "diferencia grande entre ambas puede indicar que la captura difiere entre estratos.",
        "sources": "Fuentes",
        "sources_intro": "Cada lista es el registro de víctimas de una institución; una persona puede aparecer en "
                         "varias listas.",
        "list": "Lista",
        "records": "Registros",
        "persons": "Personas (tras la vinculación)",
        "definition": "Definición",
        "period": "Periodo",
        "not_given": "no indicado en el proyecto",
        "share_curp": "Con CURP",
        "share_full_name": "Con nombre completo",
        "share_birth_date": "Con fecha de nacimiento",
        "id_share_note": "Proporción de los registros de cada lista con CURP válida, nombre completo (nombre y "
                         "primer apellido) y fecha de nacimiento completa: los identificadores que usa la "
                         "vinculación. Se calcula de los conteos publicados; si un conteo se reserva, la "
                         "proporción se muestra como el conteo.",
        "id_share_missing": "Esta corrida no contó los registros con cada identificador (listas codificadas, o una "
                            "corrida anterior a ese conteo), por lo que las proporciones no se muestran.",
        "linkage": "Vinculación de registros",
        "linkage_text": "{records} registros de {lists} listas se vincularon en {persons} personas ({method}). "
                        "{clusters}",
        "cluster_sizes": "Personas según el número de listas en que aparecen: {sizes}.",
        "linkage_sensitivity": "Estimación con otros umbrales de vinculación",
        "method_names": {
            "loglinear": "modelos log-lineales", "independence": "modelo de independencia",
            "mt": "modelo de independencia", "chao": "cota inferior de Chao", "saturated": "modelo log-lineal saturado",
            "petersen": "Lincoln–Petersen", "chapman": "Chapman", "m0": "modelo M0", "mh-chao": "modelo Mh, Chao",
            "mh-poisson2": "modelo Mh, Poisson 2", "mh-darroch": "modelo Mh, Darroch",
            "mh-gamma3.5": "modelo Mh, Gamma 3.5", "mth-chao": "modelo Mth, Chao",
            "mth-poisson2": "modelo Mth, Poisson 2", "mth-darroch": "modelo Mth, Darroch",
            "mth-gamma3.5": "modelo Mth, Gamma 3.5", "lcmcr": "clases latentes bayesianas",
            "dga": "promedio bayesiano de modelos gráficos", "sample-coverage": "cobertura muestral",
        },
        "linkage_sensitivity_single": "Estimaciones puntuales de una sola vinculación en cada umbral. La estimación "
        "principal combina varias vinculaciones imputadas, por lo que en el umbral de la corrida ambas pueden "
        "diferir ligeramente.",
        "linkage_sensitivity_none": "En esta corrida no se calculó la sensibilidad a la vinculación.",
        "threshold": "Umbral",
        "overlaps": "Coincidencias entre listas",
        "overlaps_intro": "Personas en cada combinación de listas (tabla nacional; conteos menores a {threshold} "
                          "reservados).",
        "pattern_table": "Patrones de captura",
        "sdg": "ODS 16.2.2: víctimas detectadas por sexo, edad y forma de explotación",
        "sdg_intro": "Personas distintas detectadas (no estimaciones). Las formas de explotación siguen las "
                     "categorías de UNODC mediante la correspondencia con el art. 10 de la ley mexicana; una "
                     "persona registrada con formas de más de una categoría se cuenta en \"otras\".",
        "sex": "Sexo",
        "age_group": "Edad",
        "exploitation": "Forma de explotación",
        "state": "Entidad federativa",
        "count": "Personas",
        "models": "Selección del modelo",
        "models_intro": "Los mejores modelos según el criterio de selección ({criterion}); ΔBIC es la diferencia "
                        "respecto al mejor. Se marca el modelo elegido.",
        "models_none": "Este método no ordena modelos ({method}).",
        "models_combined": "Esta estimación combina las estimaciones de varias vinculaciones imputadas, cada una con "
        "su propia selección de modelo ({method}); no le corresponde un solo orden de modelos.",
        "model": "Modelo",
        "delta_bic": "ΔBIC",
        "chosen": "elegido",
        "estimators": "Comparación de estimadores",
        "estimators_one": "Solo se ejecutó un estimador ({methods}); use `cifranegra compare` o indique varios "
                          "métodos en el archivo del proyecto para compararlos.",
        "drop_one": "Sensibilidad a quitar una lista",
        "drop_one_text": "La estimación de {method} quitando las listas una a la vez (estimaciones puntuales, "
                         "redondeadas); un cambio grande muestra qué lista determina la estimación. Los escenarios "
                         "con menos listas o personas que los mínimos de publicación no son estimables.",
        "drop_one_all": "todas las listas",
        "drop_one_without": "sin {list}",
        "drop_one_none": "Esta corrida no tiene estimaciones quitando una lista.",
        "by_state": "Por entidad federativa",
        "by_state_none": "Sin mapa: la corrida no se estratificó por entidad federativa, así que no hay "
                         "estimación para ninguna entidad.",
        "distribution": "Distribución de la estimación",
        "distribution_none": "No se conservaron réplicas bootstrap ni extracciones de la distribución a posteriori "
                             "de esta estimación ({method}), por lo que no se muestra su distribución.",
        "fit": "Bondad de ajuste",
        "fit_text": "Conteo observado frente al ajustado de cada patrón de captura con el modelo elegido "
                    "({model}); los puntos cerca de la diagonal ajustan bien. Devianza {deviance} con {df} grados "
                    "de libertad.",
        "fit_withheld": "La gráfica de bondad de ajuste no se publica: {withheld} conteo(s) de patrones de captura "
                        "están reservados y los conteos ajustados permitirían recalcularlos.",
        "fit_none": "Sin gráfica de bondad de ajuste: {why}.",
        "sdg_none": "Los registros de la corrida no tienen sexo, edad ni forma de explotación.",
        "context": "Cifras oficiales como contexto",
        "context_intro": "Las cifras oficiales son víctimas detectadas (identificadas) registradas por las "
                         "autoridades; no son prevalencia y no son comparables una a una con las listas usadas "
                         "aquí.",
        "official_sesnsp": "SESNSP: víctimas de trata de personas (fiscalías estatales)",
        "official_government": "Víctimas identificadas (informe TIP de EUA, federal + estatal)",
        "methods": "Métodos y limitaciones",
        "methods_text": [
            "La estimación de sistemas múltiples compara quién aparece en qué lista. Si las listas coinciden poco, "
            "es probable que muchas víctimas falten en todas; si coinciden mucho, faltan pocas.",
            "Población cerrada: cada persona contada pudo estar en cualquier lista durante el periodo de "
            "referencia. Las personas que llegaron o se fueron durante el periodo debilitan este supuesto.",
            "Dependencia entre listas: las listas que se canalizan víctimas entre sí coinciden más que por azar. "
            "Los modelos log-lineales incluyen esas dependencias cuando los datos las sustentan; las que los "
            "datos no pueden revelar (las mismas personas difíciles de alcanzar para todas las listas) sesgan "
            "la estimación a la baja.",
            "Vinculación de registros: las listas se vincularon en personas sin un identificador común para "
            "todas. Los vínculos omitidos inflan la estimación y los falsos la reducen; la sensibilidad a la "
            "vinculación muestra cuánto.",
            "Lo que el intervalo deja fuera: el error de la proyección de población usada para las tasas, "
            "cualquier sesgo de los supuestos anteriores (sobre todo las víctimas que ninguna lista alcanza) y "
            "el error de la vinculación, salvo que los resultados principales digan que el intervalo lo incluye.",
        ],
        "estimator_text": "Estimador: {method}; selección del modelo: {selection}; intervalo: {interval}.",
        "disclosure": "Control de divulgación",
        "disclosure_text": "Los conteos de 1 a {below} se reservan (supresión primaria); otros conteos se "
                           "reservan en todas las tablas publicadas juntas para que ningún conteo reservado pueda "
                           "recalcularse (supresión secundaria por eliminación gaussiana). Una auditoría por "
                           "programación lineal verificó que cada conteo reservado conserve un rango de al menos "
                           "{width}: {result}. Las estimaciones se redondean y no se publican para estratos con "
                           "menos de {min_observed} personas observadas o menos de {min_lists} listas con "
                           "registros.",
        "audit_passed": "aprobada ({withheld} de {cells} celdas reservadas)",
        "audit_failed": "NO APROBADA",
        "figure": "Figura",
        "table": "Cuadro",
        "total": "Total",
        "yes": "sí",
        "no": "no",
        "female": "Mujeres",
        "male": "Hombres",
        "unknown": "No especificado",
        "sexual": "Explotación sexual",
        "labour": "Trabajo forzoso",
        "other": "Otras formas",
        "0-17": "0–17",
        "18+": "18+",
        "footer": "Elaborado con cifranegra {version}. Solo se publican tablas con control de divulgación; "
                  "ningún dato a nivel de registro.",
    },
}


def messages(lang: str) -> Mapping[str, Any]:
    """The catalogue of ``lang`` (``es``, ``es_MX`` or ``en``)."""
    base = lang.split("_")[0]
    if base not in MESSAGES:
        raise InputError(f"no report in language {lang!r}: use --lang with one or more of {', '.join(LANGS)}")
    return MESSAGES[base]


def format_date(day: dt.date, lang: str) -> str:
    """A date as a reader of ``lang`` writes it: "5 de marzo de 2025" (es_MX), "5 March 2025" (en)."""
    base = lang.split("_")[0]
    if base == "es":
        return f"{day.day} de {_MONTHS_ES[day.month - 1]} de {day.year}"
    if base == "en":
        return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"
    raise InputError(f"no date format for language {lang!r}: use one of {', '.join(LANGS)}")
