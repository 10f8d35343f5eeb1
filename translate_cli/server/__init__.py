"""Front end 2, the HTTP server of `tcli serve`: the FastAPI app and its routes, request checks that answer
with HTTP status codes, uvicorn on a listening socket with a graceful stop, and the web page. It calls the
library (core/serving) like a step does; steps/serve.py starts it."""
