"""Checks every answer of `elmo serve` under load: many clients send the same sentence for a while; each 200 must be
whole JSON with exactly the vectors the sentence gets alone (the server's products are batch-invariant), each 429 one
JSON error with Retry-After, nothing else. Standard library only.

    python3 scripts/serve_check.py [--url http://127.0.0.1:8080/v1/embed] [--clients 128] [--seconds 10]

Exit 0 when no answer was wrong, truncated or of another status.
"""
import argparse
import json
import threading
import time
import urllib.error
import urllib.request

SENTENCE = "the film 's story is told with grace and its two leads make every scene feel honest and alive ."


def post(url, body):
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8080/v1/embed")
    parser.add_argument("--clients", type=int, default=128)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    body = json.dumps({"sentences": [SENTENCE], "layers": "top"}).encode()
    status, _, answer = post(args.url, body)
    assert status == 200, f"the sentence alone: status {status}"
    reference = json.loads(answer)
    flat = lambda rows: [x for row in rows for x in row]
    expected = flat(reference["embeddings"][0])
    counts, problems, differences, lock = {}, [], [], threading.Lock()
    deadline = time.time() + args.seconds

    def client():
        while time.time() < deadline:
            status, headers, answer = post(args.url, body)
            problem = None
            if status == 200:
                try:
                    got = json.loads(answer)
                    values = flat(got["embeddings"][0])
                    worst = max(abs(a - b) for a, b in zip(values, expected))
                    if got["shapes"] != reference["shapes"] or len(values) != len(expected) or worst != 0:
                        problem = f"200 with other vectors (shapes {got['shapes']}, max |difference| {worst:.2e})"
                    else:
                        with lock:
                            differences.append(worst)
                except (ValueError, KeyError) as error:
                    problem = f"200 with a broken body ({len(answer)} bytes): {error}"
            elif status == 429:
                error = json.loads(answer).get("error", {})
                if error.get("status") != 429 or int(headers.get("Retry-After", "0")) < 1:
                    problem = f"429 without its JSON error or Retry-After: {answer[:200]!r}"
            else:
                problem = f"status {status}: {answer[:200]!r}"
            with lock:
                counts[status] = counts.get(status, 0) + 1
                if problem:
                    problems.append(problem)

    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"serve_check: {args.clients} clients, {args.seconds:.0f} s: statuses {dict(sorted(counts.items()))}, "
          f"{len(problems)} wrong answers{': ' + problems[0] if problems else ''}; "
          f"largest difference from the sentence alone {max(differences, default=0):.2e}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
