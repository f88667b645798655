import time, json, sys
sys.path.insert(0, ".")
from pathlib import Path
from runtime.storage import FileStorage, select_checkpoint
root = Path("/tmp/bench-rwb"); job = json.loads((root/"bench-workbench.json").read_text())["job"]
st = FileStorage(root / "perstack")
t=time.perf_counter(); cp = select_checkpoint(st, continue_latest=False, continue_job=job, resume_from=None); print("select_checkpoint", time.perf_counter()-t)
from runtime.storage.sources import JobSource
t=time.perf_counter(); refs = st.list_event_files(job, max_step=cp.step_number); print("refs", time.perf_counter()-t, len(refs))
src = JobSource(st, job, "stored", job, job)
t=time.perf_counter(); evs=[e for _, e in src.iter_events(refs)]; print("iter", time.perf_counter()-t)
from workbench.jobview import JobView
t=time.perf_counter(); v = JobView(); v.apply(evs); print("apply", time.perf_counter()-t)
t=time.perf_counter(); st.list_runs(job); print("runs", time.perf_counter()-t)
