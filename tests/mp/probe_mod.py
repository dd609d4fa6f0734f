"""The module tests/mp/lazy_call.py has firmware.memory.call load for one call: it
imports x509 (which the call must unload too) and can start a task that outlives it."""
import asyncio
import x509

async def f(a, v):
    return [v, x509.__name__]

async def boom(a):
    raise ValueError("bad input")

async def _work(a):
    await asyncio.sleep_ms(10)
    a.done = x509.__name__

async def start(a):
    a.done = None
    asyncio.create_task(_work(a))
    return "started"
