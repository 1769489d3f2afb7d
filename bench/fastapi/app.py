"""bench/fastapi/app.py: the FastAPI reference of bench/run.sh.

The same four endpoints and JSON shapes as bench/baseline, in FastAPI as its
tutorial writes them: an HS256 bearer token verified with PyJWT on every
request (the key comes from $FASTAPI_BENCH_KEY, so that every uvicorn
worker accepts the token the script mints), items validated by pydantic and
kept in a dict (per worker: the script reads back an item from the worker
that created it only by chance, so GET /items/{id} is not run against it).
No access log, no security headers, no rate limits: like bench/baseline, a
measuring stick. Run by bench/run.sh with Debian's python3-fastapi and
python3-uvicorn (uvicorn --workers 2).
"""
import os
import time
import uuid
from datetime import datetime, timezone
from typing import Optional

import jwt
from fastapi import Depends, FastAPI, HTTPException, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

KEY = bytes.fromhex(os.environ.get("FASTAPI_BENCH_KEY", ""))
app = FastAPI()
bearer = HTTPBearer()
items = {}


class ItemInput(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=5000)
    price: float = Field(ge=0, le=1e9)
    tax: Optional[float] = Field(None, ge=0, le=1e9)


class Item(ItemInput):
    id: str
    owner: str
    price_with_tax: float
    created_at: datetime
    updated_at: datetime


def user(cred: HTTPAuthorizationCredentials = Depends(bearer)) -> str:
    try:
        claims = jwt.decode(cred.credentials, KEY, algorithms=["HS256"], audience="fastapi",
                            issuer="fastapi", leeway=30, options={"require": ["exp", "iat", "sub"]})
    except jwt.PyJWTError:
        raise HTTPException(status_code=401, detail="authentication required",
                            headers={"WWW-Authenticate": 'Bearer realm="api"'})
    return claims["sub"]


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.get("/protected")
def protected(owner: str = Depends(user)):
    return {"message": f"Hello, {owner}: your token is valid."}


@app.post("/items/", status_code=201, response_model=Item)
def create(body: ItemInput, response: Response, owner: str = Depends(user)):
    now = datetime.now(timezone.utc)
    it = Item(id=str(uuid.uuid4()), owner=owner, price_with_tax=body.price + (body.tax or 0),
              created_at=now, updated_at=now, **body.dict())
    items[it.id] = it
    response.headers["Location"] = "/items/" + it.id
    return it


@app.get("/items/{item_id}", response_model=Item)
def get(item_id: str, owner: str = Depends(user)):
    it = items.get(item_id)
    if it is None or it.owner != owner:
        raise HTTPException(status_code=404, detail="no such item")
    return it


def mint(key_hex: str) -> str:
    now = int(time.time())
    return jwt.encode({"iss": "fastapi", "aud": "fastapi", "sub": "bench", "iat": now, "nbf": now,
                       "exp": now + 3600}, bytes.fromhex(key_hex), algorithm="HS256")


if __name__ == "__main__":  # python3 app.py KEYHEX: print a token
    import sys
    print(mint(sys.argv[1]))
