"""Dynamic batching (core/serving/batcher.py) with a stand-in model whose batches the test controls and records."""

from __future__ import annotations

import asyncio
import threading

import pytest

from translate_cli.core.serving.batcher import Batcher, BatchSettings, Overloaded


class GatedModel:
    """Upper-cases items; the first batch blocks until `release()`, so later jobs queue up behind it."""

    def __init__(self, fail_on: str | None = None):
        self.batches: list[list[str]] = []
        self.started, self.gate = threading.Event(), threading.Event()
        self.fail_on = fail_on

    def __call__(self, items: list[str]) -> list[str]:
        self.batches.append(list(items))
        if len(self.batches) == 1:
            self.started.set()
            assert self.gate.wait(30)
        if self.fail_on in items:
            raise ValueError("model failure")
        return [item.upper() for item in items]

    def release(self) -> None:
        self.gate.set()


async def busy(batcher: Batcher, model: GatedModel) -> asyncio.Task:
    """Start the worker on a first job ("first") and return once the model is busy with it."""
    batcher.start()
    first = asyncio.create_task(batcher.submit(["first"]))
    await asyncio.to_thread(model.started.wait, 30)
    return first


async def queue_jobs(batcher: Batcher, jobs: list[list[str]]) -> list[asyncio.Task]:
    tasks = [asyncio.create_task(batcher.submit(items)) for items in jobs]
    await asyncio.sleep(0)  # each task runs up to awaiting its future: every job is queued, in order
    return tasks


def test_jobs_queued_while_the_model_is_busy_form_one_batch_and_each_gets_its_own_results():
    model = GatedModel()
    batcher = Batcher(model, weigh=lambda item: 1, budget=100, settings=BatchSettings(wait_ms=0))

    async def scenario():
        first = await busy(batcher, model)
        tasks = await queue_jobs(batcher, [[f"a{i}", "", f"b{i}"] for i in range(5)])
        assert batcher.waiting == 15
        model.release()
        return await first, await asyncio.gather(*tasks)

    first, results = asyncio.run(scenario())
    batcher.stop()
    assert first == ["FIRST"]
    assert results == [[f"A{i}", "", f"B{i}"] for i in range(5)]
    assert model.batches == [["first"], [item for i in range(5) for item in (f"a{i}", "", f"b{i}")]]


def test_a_batch_closes_at_the_token_budget_and_a_job_over_the_budget_runs_alone():
    model = GatedModel()
    batcher = Batcher(model, weigh=len, budget=4, settings=BatchSettings(wait_ms=0))

    async def scenario():
        first = await busy(batcher, model)
        tasks = await queue_jobs(batcher, [["xx"], ["yy"], ["zz"], ["toolong"], ["w"]])
        model.release()
        await first
        return await asyncio.gather(*tasks)

    assert asyncio.run(scenario()) == [["XX"], ["YY"], ["ZZ"], ["TOOLONG"], ["W"]]
    batcher.stop()
    assert model.batches == [["first"], ["xx", "yy"], ["zz"], ["toolong"], ["w"]]


def test_with_batching_off_every_request_is_its_own_model_call():
    model = GatedModel()
    batcher = Batcher(model, weigh=lambda item: 1, budget=100, settings=BatchSettings(enabled=False))

    async def scenario():
        first = await busy(batcher, model)
        tasks = await queue_jobs(batcher, [["a", "b"], ["c"], ["d"]])
        model.release()
        await first
        return await asyncio.gather(*tasks)

    assert asyncio.run(scenario()) == [["A", "B"], ["C"], ["D"]]
    batcher.stop()
    assert model.batches == [["first"], ["a", "b"], ["c"], ["d"]]


def test_overload_is_refused_with_a_retry_time_but_an_idle_server_takes_any_request():
    model = GatedModel()
    batcher = Batcher(model, weigh=lambda item: 1, budget=100, settings=BatchSettings(wait_ms=0, max_queue=3))

    async def scenario():
        first = await busy(batcher, model)  # "first" is being decoded, nothing waits
        queued = await queue_jobs(batcher, [["a", "b"]])
        with pytest.raises(Overloaded) as refused:
            await batcher.submit(["c", "d"])
        assert refused.value.retry_after >= 1 and refused.value.waiting == 2
        model.release()
        await first
        assert await queued[0] == ["A", "B"]
        return await batcher.submit([str(i) for i in range(10)])  # 10 > max_queue, but nothing waits

    assert asyncio.run(scenario()) == [str(i) for i in range(10)]
    batcher.stop()


def test_a_failing_request_fails_alone_and_the_worker_goes_on():
    model = GatedModel(fail_on="bad")
    batcher = Batcher(model, weigh=lambda item: 1, budget=100, settings=BatchSettings(wait_ms=0))

    async def scenario():
        first = await busy(batcher, model)
        failing = await queue_jobs(batcher, [["bad"], ["x"]])
        model.release()
        await first
        outcomes = await asyncio.gather(*failing, return_exceptions=True)
        return outcomes, await batcher.submit(["after"])

    (bad, good), after = asyncio.run(scenario())
    batcher.stop()
    assert isinstance(bad, ValueError) and good == ["X"]  # they shared a batch: each was retried on its own
    assert model.batches[1:] == [["bad", "x"], ["bad"], ["x"], ["after"]]
    assert after == ["AFTER"]


def test_a_request_whose_client_left_is_not_decoded_and_stop_finishes_queued_work():
    model = GatedModel()
    batcher = Batcher(model, weigh=lambda item: 1, budget=100, settings=BatchSettings(wait_ms=0))

    async def scenario():
        first = await busy(batcher, model)
        gone, kept = await queue_jobs(batcher, [["gone"], ["kept"]])
        gone.cancel()
        await asyncio.sleep(0)
        stopping = asyncio.create_task(asyncio.to_thread(batcher.stop))  # waits for the queued job
        model.release()
        result = await kept
        await stopping
        return await first, result

    assert asyncio.run(scenario()) == (["FIRST"], ["KEPT"])
    assert model.batches == [["first"], ["kept"]]
