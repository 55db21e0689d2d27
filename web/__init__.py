"""The HTTP side: order intake, job status and downloads, health, metrics, the landing page
and the ops dashboard (FastAPI on uvicorn). `python -m web` runs it; `web.app:create_app`
builds it from the settings.
"""
