"""WSGI entry point: gunicorn wsgi:app, or flask --app wsgi <command>."""
import gc

from saas.app import create_app

app = create_app()
# What start-up built (modules, routes, templates' code) lives as long as the process: keep it out
# of the collector's full passes, which otherwise walk it all and stall a request for ~0.1 s.
gc.freeze()
