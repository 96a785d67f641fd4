"""Serving: the REST API and web page (FastAPI + uvicorn) in front of the predictor."""
