"""The WSGI entry point gunicorn loads: `webform.wsgi:app`."""

import logging

from crm_store.config import load_config
from webform.app import create_app

logging.basicConfig(level=load_config().log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
app = create_app()
