"""gunicorn settings for magnesium-cds (the Dockerfile and the tests run with this file).

Environment: PORT (default 8080), HOST (default 0.0.0.0), WEB_CONCURRENCY (workers; default one per CPU:
the CDS work itself is CPU-bound — bench/RESULTS.md measured 2 workers faster than 3 on 2 cores),
GUNICORN_WORKER_CLASS (default gevent; "sync" is the former model, kept for the benchmark comparison),
GUNICORN_WORKER_CONNECTIONS (connections one gevent worker serves at once, default 256), METRICS_PORT
(Prometheus /metrics on its own listener, not the public port; unset: no metrics listener) and
METRICS_HOST (default 127.0.0.1; the image sets 0.0.0.0 so Prometheus can scrape the pod).

Why gevent (README "Deploy", bench/WORKERS.md): waits on a slow EHR and slow clients (dribbled headers or
bodies) park a greenlet instead of a whole worker, so they cannot block other requests; the FHIR deadline
is enforced by killing the fetching greenlets. CPU-bound throughput stays that of sync workers.
"""

import multiprocessing
import os
import shutil
import tempfile

from service.gunicorn_logging import install_json_errors

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8080')}"  # noqa: S104 (container)
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
# gevent: gunicorn's gevent worker plus a per-connection deadline (`timeout`), service/gunicorn_worker.py.
worker_class = {"gevent": "service.gunicorn_worker.DeadlineGeventWorker"}.get(
    os.environ.get("GUNICORN_WORKER_CLASS", "gevent"), os.environ.get("GUNICORN_WORKER_CLASS", "gevent")
)
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "256"))
# A worker stuck longer than this (CPU-bound) is killed and replaced; a connection that has not completed
# its request within it (a slow client) gets 408 and is closed.
timeout = 30
graceful_timeout = 20  # SIGTERM: finish in-flight requests (Kubernetes gives 30 s by default)
# One request per connection, as sync workers always did: a connection is then accepted by whichever worker
# is free, so CPU-bound requests spread over the workers. With keep-alive a gevent worker keeps serving the
# connections it accepted while another worker may sit idle (the benchmark showed half the throughput).
keepalive = 0
# Request line and header limits (gunicorn answers 414 / 431 / 400 itself, as OperationOutcome JSON).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
max_requests = 20000  # recycle workers now and then, with jitter so they do not restart together
max_requests_jitter = 2000
# Worker heartbeat files in memory, off the (read-only) root filesystem; /dev/shm is a tmpfs, not shared data.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
# gunicorn's control socket would live in $HOME, which the container user has not got (read-only root).
control_socket_disable = True
accesslog = "-"
errorlog = "-"
logger_class = "service.gunicorn_logging.JsonLogger"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
install_json_errors()

# Prometheus multiprocess mode: one metrics directory per server. It must exist before any process imports
# the app (gunicorn may import it in the master too), so create it now, then empty it in on_starting.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="magnesium-cds-metrics-")
os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)


def on_starting(server):
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder, exist_ok=True)


def when_ready(server):
    # /metrics (merged across workers) from the master, on its own port: never reachable through the
    # public Service or Ingress, and still answering when every worker is busy.
    port = os.environ.get("METRICS_PORT")
    if not port:
        return
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server  # noqa: PLC0415

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    start_http_server(int(port), addr=os.environ.get("METRICS_HOST", "127.0.0.1"), registry=registry)
    server.log.info("metrics on http://%s:%s/metrics", os.environ.get("METRICS_HOST", "127.0.0.1"), port)


def child_exit(server, worker):
    from prometheus_client import multiprocess  # noqa: PLC0415 (after PROMETHEUS_MULTIPROC_DIR is set)

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    # The app is loaded now: freeze it out of the collector's sight, collect young objects less often.
    from service.runtime import settle_worker  # noqa: PLC0415

    settle_worker()
