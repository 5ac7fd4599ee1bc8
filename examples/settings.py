"""
Django settings for the tutorials' API (as `django-admin startproject` writes
them, trimmed), with django-cors-headers configured. corsgate reads only the
top-level CORS_* assignments below; the rest is never evaluated.

    corsgate check examples/settings.py
    corsgate proxy --config examples/settings.py --upstream http://127.0.0.1:8000
"""

import os
from pathlib import Path

from corsheaders.defaults import default_headers

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "dev-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "rest_framework",
    "corsheaders",
    "api",
]

MIDDLEWARE = [
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db.sqlite3",
    }
}

# django-cors-headers: the front-end on :5000 calls this API on :8000.
CORS_ALLOWED_ORIGINS = [
    "http://127.0.0.1:5000",
    "http://localhost:5000",
]
CORS_ALLOWED_ORIGIN_REGEXES = [
    r"^https://[a-z0-9-]+\.preview\.example\.com$",  # preview deployments
]
CORS_ALLOW_HEADERS = (
    *default_headers,
    "x-request-id",
)
CORS_EXPOSE_HEADERS = ["x-total-count"]
CORS_ALLOW_CREDENTIALS = True
CORS_PREFLIGHT_MAX_AGE = 3600
CORS_URLS_REGEX = r"^/api/.*$"
