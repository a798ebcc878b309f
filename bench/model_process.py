"""The fixed-latency HTTP model in a process of its own, as a real model runs on other machines.

In the benchmark's own process the fake's work (parsing requests, composing the offline answers,
sending them) would take the GIL from the worker it is timing, and every figure would count it
as ours. Here it runs beside, and answers each request `latency_s` after it arrived.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

STOP_TIMEOUT_S = 5.0


# How an agent framework that parses its model's text (CrewAI) is told the answer is final.
FINAL_ANSWER = "Thought: I now can give a great answer\nFinal Answer: "


def main() -> None:
    """The child: print the URL, then answer "count" lines with how many requests came, until EOF.

    Arguments: the latency in seconds, then optionally `final-answer` (each answer is written as
    a CrewAI agent's final answer).
    """
    from marketing_team.testing.fake_anthropic import FakeAnthropic, FakeReply, RecordedRequest
    from marketing_team.testing.team_responder import offline_responder

    latency_s = float(sys.argv[1])
    offline = offline_responder(lambda _: latency_s)

    def final(request: RecordedRequest) -> FakeReply:
        reply = offline(request)
        return FakeReply(content=FINAL_ANSWER + reply.content, input_tokens=reply.input_tokens,
                         output_tokens=reply.output_tokens, delay_s=reply.delay_s)

    framed = sys.argv[2:3] == ["final-answer"]
    with FakeAnthropic(responder=final if framed else offline) as fake:
        print(fake.url, flush=True)
        for line in sys.stdin:
            if line.strip() == "count":
                print(len(fake.requests), flush=True)


class RemoteModel:
    """The running model process, seen from the benchmark."""

    def __init__(self, url: str, commands: IO[str], answers: IO[str]) -> None:
        self.url = url
        self._commands = commands
        self._answers = answers

    def request_count(self) -> int:
        """How many requests the model has received so far."""
        self._commands.write("count\n")
        self._commands.flush()
        return int(self._answers.readline())


@contextmanager
def http_model(latency_s: float, final_answer: bool = False) -> Iterator[RemoteModel]:
    """Start the model process, yield it once it listens, stop it at the end.

    final_answer: write each answer as a CrewAI agent's final answer.
    """
    args = [sys.executable, "-m", "bench.model_process", str(latency_s)]
    process = subprocess.Popen([*args, "final-answer"] if final_answer else args,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdin is not None and process.stdout is not None
    try:
        url = process.stdout.readline().strip()
        if not url:
            raise RuntimeError(f"the benchmark's HTTP model exited first (status {process.wait()})")
        yield RemoteModel(url, process.stdin, process.stdout)
    finally:
        process.stdin.close()  # end of commands: the model stops
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    main()
