"""The hub: agencies submit encoded lists; a coordinating office links, estimates and releases.

An optional part (``pip install 'cifranegra[hub]'``): FastAPI app factory (:func:`create_app`), one
router module per resource, encrypted storage, durable jobs and an audit log. See docs/hub.md.
"""
