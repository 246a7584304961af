"""What the drill's machinery costs a load generator, against plain Locust, in one run.

A minimal asyncio HTTP responder (its own process, so the target is never the bottleneck)
answers every request with a small 200. One generator core then drives it for a fixed time:

  (a) plain Locust: FastHttpUser tasks doing GET / back to back (and, for reference, the same
      with ``catch_response`` and an ``X-Shopper-Id`` header, as the drill's requests have);
  (b) peakday: the drill's Shopper users taking visits from the schedule (all due at once,
      so they run back to back), five home requests each (journeys without think time), with
      the start-lag, corrected and raw HDR recording and outcome accounting of a real drill.

Prints requests/s of each and the overhead 1 - b/a (goal: <= 15%).

    python benchmarks/drill_overhead.py [--seconds 10] [--users 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import time

RESPONSE = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n"
            b"connection: keep-alive\r\n\r\n{}")


def serve(port: int) -> None:
    """The target: answers each request on a connection with RESPONSE."""

    class Answer(asyncio.Protocol):
        def connection_made(self, transport) -> None:
            self.transport, self.buffer = transport, b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while b"\r\n\r\n" in self.buffer:
                head, _, rest = self.buffer.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if len(rest) < length:
                    return
                self.buffer = rest[length:]
                self.transport.write(RESPONSE)

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Answer, "127.0.0.1", port)
        await server.serve_forever()

    asyncio.run(main())


GENERATOR = r"""
import json, sys, time
import gevent
from locust import FastHttpUser, task, events
from locust.env import Environment
kind, host, users, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
state = None
if kind == "plain":
    class Plain(FastHttpUser):
        @task
        def home(self):
            self.client.get("/", name="home")
    user_class = Plain
elif kind == "plain-checked":
    class Checked(FastHttpUser):
        @task
        def home(self):
            with self.client.request("GET", "/", name="home", headers={"X-Shopper-Id": "s1"},
                                     catch_response=True) as reply:
                reply.success()
    user_class = Checked
else:
    from loadtests.schedule import Plan, Visit
    from loadtests.users import DrillState, Shopper, attach
    from sim.scenario import load_scenario
    scenario = load_scenario("scenarios/textbook/mmc.yaml")
    visits = [Visit(i, 0.0, ("home",) * 5, (0.0,) * 4, f"s{i}", None) for i in range(100_000)]
    plan = Plan(visits, (0.0, seconds), 1.0, 1.0, seconds, users)
    state = DrillState(scenario, plan)
    state.take(0, 1, time.time())
    user_class = Shopper
env = Environment(user_classes=[user_class], host=host, events=events)
if state is not None:  # the drill's Shopper finds its drill on the environment
    attach(env, state)
runner = env.create_local_runner()
runner.start(users, spawn_rate=users)
gevent.sleep(1.0)
start, first = time.time(), env.stats.total.num_requests
gevent.sleep(seconds)
done = env.stats.total.num_requests - first
elapsed = time.time() - start
runner.quit()
print(json.dumps({"rate": done / elapsed, "failures": env.stats.total.num_failures}))
"""


def generate(kind: str, host: str, users: int, seconds: float) -> dict:
    output = subprocess.run([sys.executable, "-c", GENERATOR, kind, host, str(users),
                             str(seconds)], check=True, capture_output=True, text=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=50)
    args = parser.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    target = subprocess.Popen([sys.executable, "-c",
                               f"from benchmarks.drill_overhead import serve; serve({port})"])
    try:
        time.sleep(1.0)
        host = f"http://127.0.0.1:{port}"
        plain = generate("plain", host, args.users, args.seconds)
        checked = generate("plain-checked", host, args.users, args.seconds)
        ours = generate("drill", host, args.users, args.seconds)
    finally:
        target.terminate()
        target.wait()
    print(f"(a) plain Locust FastHttpUser  {plain['rate']:>9,.0f} requests/s")
    print(f"    ... with catch_response and a shopper header (as the drill sends) "
          f"{checked['rate']:,.0f} requests/s")
    print(f"(b) peakday drill shoppers     {ours['rate']:>9,.0f} requests/s")
    print(f"overhead 1 - b/a = {1 - ours['rate'] / plain['rate']:.1%}   (goal <= 15%)")


if __name__ == "__main__":
    main()
