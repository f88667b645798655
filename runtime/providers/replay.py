"""The offline replay provider: answers every model call from a stored job's events.

``[provider] providerName = "replay"`` with ``[provider.setting] job = "<jobId>"`` (and
``storage = "<path>"``, default the usual storage root), or ``perstack run <expert>
<query> --replay <jobId>``. The job is read once, when the provider is built; each request
is then answered with the recorded answer to the same request (same Expert, purpose and
messages, ids and timestamps aside), so the run repeats the job's tool calls, results and
final text with no key and no network. A request the job does not hold fails the run with
``ReplayMismatch`` and a diff against the nearest recorded request. See
``docs/offline-providers.md``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.errors import PerstackError
from runtime.providers._replay_canon import (
    MessageCanon,
    instruction_matches,
    render_diff,
)
from runtime.providers._replay_record import RecordedGeneration, read_generations
from runtime.providers.base import (
    GenerationRequest,
    GenerationResult,
    Provider,
    ProviderError,
    StreamSink,
)

if TYPE_CHECKING:
    from runtime.storage import Storage

__all__ = ["ReplayProvider", "create", "MISMATCH"]

#: The error name of a request the recorded job cannot answer.
MISMATCH = "ReplayMismatch"

_Key = tuple[str, str, tuple[str, ...]]


@dataclass(slots=True)
class _Entry:
    generation: RecordedGeneration
    instruction: str | None
    used: bool = False


class ReplayProvider(Provider):
    """Answers generations from the model calls recorded in one stored job.

    Requests are matched by content, not by position, so parallel delegates asking in any
    order get their own answers; identical requests (the same question asked twice) are
    answered in recorded order.

    Attributes:
        job_id: The replayed job.
        generations: Every recorded model call, run by run.
        requests: Every request received, in order (for tests).
    """

    name = "replay"

    def __init__(self, job_id: str, generations: list[RecordedGeneration]) -> None:
        """Index ``generations`` (recorded in job ``job_id``) for replay."""
        self.job_id = job_id
        self.generations = generations
        self.requests: list[GenerationRequest] = []
        self._recorded_canon = MessageCanon()
        self._request_canon = MessageCanon()
        self._index: dict[_Key, list[_Entry]] = {}
        for generation in generations:
            instruction, body = self._recorded_canon.split(generation.messages)
            key = (generation.expert_key, generation.purpose, body)
            self._index.setdefault(key, []).append(_Entry(generation, instruction))

    @classmethod
    def from_storage(cls, storage: Storage, job_id: str) -> ReplayProvider:
        """A provider replaying ``job_id`` from ``storage``.

        Raises:
            PerstackError: the job is not stored, or recorded no model call.
        """
        if job_id not in storage.list_job_ids():
            where = getattr(storage, "root", None)
            place = f" in {where}" if where is not None else ""
            raise PerstackError(f"Replay: job {job_id} not found{place}")
        generations, _ = read_generations(storage, job_id)
        if not generations:
            raise PerstackError(f"Replay: job {job_id} has no recorded model calls to replay")
        return cls(job_id, generations)

    # ----------------------------------------------------------------- generation

    async def generate(self, request: GenerationRequest, sink: StreamSink) -> GenerationResult:
        """Answer ``request`` with the recorded answer to the same request.

        Raises:
            ProviderError: the recorded error (retryable as it was), or ``ReplayMismatch``
                (not retryable) when the job holds no answer for this request.
        """
        self.requests.append(request)
        instruction, body = self._request_canon.split(request.messages)
        offered = {tool.name for tool in request.tools}
        candidates = self._index.get((request.expert_key, request.purpose, body), [])
        # Taken synchronously (no await before `used` is set): concurrent delegates
        # asking the same question can never be given the same answer.
        entry = next(
            (
                c
                for c in candidates
                if not c.used
                and instruction_matches(c.instruction, instruction)
                and c.generation.answer.required_tools <= offered
            ),
            None,
        )
        if entry is None:
            raise self._mismatch(request, candidates, instruction, offered)
        entry.used = True
        answer = entry.generation.answer
        for delta in answer.reasoning_deltas:
            sink.reasoning_delta(delta)
        for delta in answer.text_deltas:
            sink.text_delta(delta)
        if answer.error is not None:
            raise answer.error.make()
        return answer.fresh_result()

    def retry_delay(self, error: ProviderError, attempt: int) -> float:
        """Recorded failures are retried at once: the replay never waits."""
        return 0.0

    # ------------------------------------------------------------------- mismatch

    def _mismatch(
        self,
        request: GenerationRequest,
        candidates: list[_Entry],
        instruction: str | None,
        offered: set[str],
    ) -> ProviderError:
        head = (
            f"Replay of job {self.job_id}: no recorded answer for this request of "
            f"{request.expert_key} (step {request.step_number}, {request.purpose}, "
            f"{len(request.messages)} messages)."
        )
        same = [c for c in candidates if instruction_matches(c.instruction, instruction)]
        if same and all(c.used for c in same):
            detail = (
                f"The job asked it {len(same)} time(s), and every recorded answer has been used."
            )
        elif same:
            missing = sorted(same[0].generation.answer.required_tools - offered)
            detail = (
                f"The recorded answer calls {', '.join(missing)}, which this run does not "
                f"offer. Offered: {', '.join(sorted(offered)) or '(none)'}."
            )
        else:
            nearest = self._nearest(request)
            label = (
                f"recorded ({nearest.expert_key}, step {nearest.step_number}, {nearest.purpose})"
            )
            diff = render_diff(
                self._recorded_canon.lines(nearest.messages),
                self._request_canon.lines(request.messages),
                label,
            )
            detail = f"Nearest recorded request, line by line:\n{diff}"
        return ProviderError(MISMATCH, f"{head}\n{detail}", is_retryable=False)

    def _nearest(self, request: GenerationRequest) -> RecordedGeneration:
        """The recorded request most like ``request``: same Expert and purpose first,
        then the longest run of equal leading messages, then the closest length."""
        wanted = self._request_keys(request.messages)

        def score(generation: RecordedGeneration) -> tuple[int, int, int, int]:
            keys = self._recorded_keys(generation.messages)
            prefix = 0
            for mine, theirs in zip(wanted, keys, strict=False):
                if mine != theirs:
                    break
                prefix += 1
            return (
                generation.expert_key == request.expert_key,
                generation.purpose == request.purpose,
                prefix,
                -abs(len(keys) - len(wanted)),
            )

        return max(self.generations, key=score)

    def _request_keys(self, messages: list[Any]) -> list[str]:
        return [self._request_canon.render(m) for m in messages]

    def _recorded_keys(self, messages: list[Any]) -> list[str]:
        return [self._recorded_canon.render(m) for m in messages]


# ------------------------------------------------------------------------ factory


def create(
    provider_name: str,
    setting: dict[str, Any],
    env: Mapping[str, str],
    base_dir: Path,
) -> ReplayProvider:
    """Build the replay provider from ``[provider.setting]`` (called by the factory).

    Args:
        provider_name: Always ``"replay"``.
        setting: ``job`` (required: the job id to replay) and ``storage`` (the storage
            root holding it, relative to ``base_dir``, or an ``s3://bucket/prefix`` URL;
            default ``PERSTACK_STORAGE_URL``, ``PERSTACK_STORAGE_PATH`` or ``./perstack``
            from the current directory).
        env: The run's environment (for those variables and the AWS ones).
        base_dir: The directory of ``perstack.toml``.

    Raises:
        PerstackError: no or a bad ``job``, a job that is not stored, or one with no
            recorded model call.
    """
    from runtime.storage import StorageLocation, check_id, open_storage, storage_location

    job_id = setting.get("job")
    if not isinstance(job_id, str) or not job_id.strip():
        raise PerstackError('Replay provider needs [provider.setting] job = "<jobId>"')
    check_id("job", job_id)
    storage_setting = setting.get("storage")
    location: StorageLocation
    if storage_setting is None:
        location = storage_location(Path.cwd(), env)
    elif isinstance(storage_setting, str) and storage_setting.startswith("s3://"):
        location = storage_setting
    elif isinstance(storage_setting, str) and storage_setting.strip():
        location = base_dir / Path(storage_setting).expanduser()
    else:
        raise PerstackError("Replay provider: [provider.setting] storage must be a directory path")
    return ReplayProvider.from_storage(open_storage(location, env={**os.environ, **env}), job_id)
