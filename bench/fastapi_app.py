# A small FastAPI app as a realistic backend for the bench: JSON from a typed route, and /health.
from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
async def health() -> dict:
    return {"status": "ok"}


@app.get("/items/{item_id}")
async def item(item_id: int, q: str | None = None) -> dict:
    return {"item_id": item_id, "q": q, "name": f"item {item_id}", "tags": ["a", "b"]}
