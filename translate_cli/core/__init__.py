"""The library. Its top level is the kernel, what every feature needs: text and files, the tokenizer, the
model, search, the translator, model directories and metrics. Each sub-folder is a wing, one feature built
on the kernel; a wing imports the kernel and never another wing unless its docstring says why
("Uses the X wing: ..."). Nothing here prints or imports typer, rich, yaml, fastapi, starlette or uvicorn
(tests/test_architecture.py); README's Layout section is the map.
"""
