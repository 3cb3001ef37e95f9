"""
What runs the service's processes, apart from configuring them: gunicorn's worker
class and the one logging set-up that gunicorn and Django share.

Not in visits_project/, which holds configuration only (settings, URLs, the WSGI
entry point), nor in visits/, the domain: these serve any Django app under gunicorn.
"""
