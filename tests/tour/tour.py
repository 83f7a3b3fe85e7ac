#!/usr/bin/env python3
"""Runs the README's five-minute tour against a running Gatehouse and checks every step.

The tour is the README section headed "Five-minute tour". In it:
  - a ```sh block is a step: it runs, in order, in one bash (so variables carry over),
    with `set -euo pipefail`, in a scratch folder;
  - a ```text block is what the step before it prints; before the first step, what the
    first `gatehouse serve` prints. `…` stands for any text within a line, and a line of
    only `…` for any number of lines;
  - `http://127.0.0.1:8080` becomes the server's address, and the placeholders a reader
    pastes become what they stand for: `<client_id>` and `<client_secret>` from the
    server's first-start output, `<code>` from the login below;
  - before the step that holds `<code>`, the browser's part: the `/authorize` URL the step
    before printed, the hosted login page with the email and password the README names
    ("log in as `EMAIL` with the password `PASSWORD`"), and the redirect to the callback.

    tour.py README BASE_URL FIRST_START_OUTPUT WORK_DIR      (tests/tour/run.sh calls it)
"""

import html
import re
import select
import subprocess
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

README_ADDRESS = "http://127.0.0.1:8080"
TOUR_HEADING = re.compile(r"^## Five-minute tour\s*$", re.M)
FENCED_BLOCK = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```\s*$", re.M | re.S)
LOGIN_SENTENCE = re.compile(r"log\s+in\s+as\s+`([^`]+)`\s+with\s+the\s+password\s+`([^`]+)`", re.I)
STEP_TIMEOUT_SECS = 60
DONE = "__tour_step_done__"


class TourFailure(Exception):
    pass


@dataclass
class Step:
    commands: str
    prose_before: str  # the text between the previous block and this one
    expected: str | None = None  # what it prints, when the README shows it


def tour_section(readme):
    start = TOUR_HEADING.search(readme)
    if not start:
        raise TourFailure("README.md has no '## Five-minute tour' section")
    end = re.compile(r"^## ", re.M).search(readme, start.end())
    return readme[start.end() : end.start() if end else len(readme)]


def parse(section):
    """The first start's output and the steps, in README order."""
    first_start_output, steps, prose_from = None, [], 0
    for block in FENCED_BLOCK.finditer(section):
        kind, body = block.group(1), block.group(2)
        if kind == "sh":
            steps.append(Step(commands=body, prose_before=section[prose_from : block.start()]))
        elif kind == "text" and steps:
            steps[-1].expected = body
        elif kind == "text":
            first_start_output = body
        prose_from = block.end()
    if first_start_output is None or not steps:
        raise TourFailure("the tour needs the first start's output (a ```text block) and ```sh steps")
    return first_start_output, steps


def pattern(expected):
    """A regex for an output block: `…` is any text in a line; a `…` line, any lines."""
    lines = []
    for line in expected.rstrip("\n").split("\n"):
        line = line.rstrip()
        if line == "…":
            lines.append(r"(?:[^\n]*\n)*?")
        else:
            lines.append(".*?".join(map(re.escape, line.split("…"))) + r"[ \t]*\n")
    return re.compile("".join(lines))


def check_output(what, expected, actual):
    if not pattern(expected).fullmatch(actual.rstrip("\n") + "\n"):
        raise TourFailure(f"{what} printed\n{indent(actual)}\nbut the README says\n{indent(expected)}")


def indent(text):
    return "\n".join("    " + line for line in text.rstrip("\n").split("\n"))


def curl(jar, *args):
    done = subprocess.run(
        ["curl", "-sS", "--max-time", "20", "-c", jar, "-b", jar, *args], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise TourFailure(f"curl {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def redirect(jar, *args):
    """Where a response with -D - sends the browser, resolved against the request URL."""
    headers = curl(jar, "-o", "/dev/null", "-D", "-", *args)
    status = headers.split(" ", 2)[1] if headers.startswith("HTTP/") else "?"
    location = re.search(r"^location:\s*(\S+)", headers, re.I | re.M)
    if status not in ("302", "303") or not location:
        raise TourFailure(f"expected a redirect from {args[-1]}, got:\n{indent(headers)}")
    return urllib.parse.urljoin(args[-1], location.group(1))


def browser_login(authorize_url, email, password, jar):
    """What a browser and a person do: follow /authorize to the login page, fill in the
    form (with its CSRF field), and land on the callback. Returns the code."""
    login_page_url = redirect(jar, authorize_url)
    if "/u/login" not in login_page_url:
        raise TourFailure(f"/authorize sent the browser to {login_page_url}, not the login page")
    page = curl(jar, login_page_url)
    form = re.search(r'<form method="post" action="([^"]+)"', page)
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    if not form or "csrf_token" not in hidden:
        raise TourFailure(f"no login form with a CSRF field at {login_page_url}")
    fields = {k: html.unescape(v) for k, v in hidden.items()} | {"username": email, "password": password}
    post = [arg for k, v in fields.items() for arg in ("--data-urlencode", f"{k}={v}")]
    callback = redirect(jar, *post, urllib.parse.urljoin(login_page_url, html.unescape(form.group(1))))
    asked = urllib.parse.parse_qs(urllib.parse.urlsplit(authorize_url).query)
    answer = urllib.parse.parse_qs(urllib.parse.urlsplit(callback).query)
    if not callback.startswith(asked["redirect_uri"][0] + "?") or answer.get("state") != asked.get("state"):
        raise TourFailure(f"the login ended at {callback}, not the callback with the tour's state")
    if "code" not in answer:
        raise TourFailure(f"the callback has no code: {callback}")
    return answer["code"][0]


class Shell:
    """One bash for the whole tour, so that a step's variables reach the next ones."""

    def __init__(self, work):
        self.work = work
        self.bash = subprocess.Popen(
            ["bash", "--noprofile", "--norc"], cwd=work, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.send("set -euo pipefail\n")
        # Name the command that stopped a step (its stderr goes to the step's .err file).
        self.send("trap 'echo \"exit status $? from: $BASH_COMMAND\" >&2' ERR\n")

    def send(self, text):
        self.bash.stdin.write(text)
        self.bash.stdin.flush()

    def run(self, number, commands):
        out, err = self.work / f"step{number}.out", self.work / f"step{number}.err"
        self.send(f"{{\n{commands}\n}} >{out} 2>{err}\necho {DONE}\n")
        ready, _, _ = select.select([self.bash.stdout], [], [], STEP_TIMEOUT_SECS)
        line = self.bash.stdout.readline() if ready else ""
        if line.strip() != DONE:
            self.bash.kill()
            why = "took longer than %d s" % STEP_TIMEOUT_SECS if not ready else "failed"
            raise TourFailure(f"step {number} {why}; it printed\n{indent(out.read_text())}\n"
                              f"and on stderr\n{indent(err.read_text())}")
        return out.read_text()

    def close(self):
        if self.bash.poll() is None:
            self.bash.stdin.close()
            self.bash.wait()


def printed_value(first_start, name):
    """`name:     VALUE` from the first start's output."""
    found = re.search(rf"^\s*{name}:\s+(\S+)", first_start, re.M)
    if not found:
        raise TourFailure(f"the first start printed no {name}:\n{indent(first_start)}")
    return found.group(1)


def run_tour(readme_path, base_url, first_start_output_path, work):
    first_start_expected, steps = parse(tour_section(Path(readme_path).read_text(encoding="utf-8")))
    first_start = Path(first_start_output_path).read_text()
    check_output("the first start", first_start_expected, first_start)
    filled = {f"<{name}>": printed_value(first_start, name) for name in ("client_id", "client_secret")}
    shell, printed = Shell(work), ""
    try:
        for number, step in enumerate(steps, 1):
            commands = step.commands.replace(README_ADDRESS, base_url)
            if "<code>" in commands:
                authorize = [l for l in printed.split("\n") if l.startswith(base_url + "/authorize?")]
                login = LOGIN_SENTENCE.search(step.prose_before)
                if not authorize or not login:
                    raise TourFailure(f"step {number} needs a code, but the step before printed no /authorize "
                                      "URL or the prose names no 'log in as `EMAIL` with the password `PASSWORD`'")
                filled["<code>"] = browser_login(authorize[-1], *login.groups(), str(work / "cookies.txt"))
                print(f"tour: logged in as {login.group(1)} through the hosted login page")
            for placeholder, value in filled.items():
                commands = commands.replace(placeholder, value)
            printed = shell.run(number, commands)
            if step.expected is None:
                print(f"tour: step {number} of {len(steps)} ran")
                continue
            check_output(f"step {number}", step.expected.replace(README_ADDRESS, base_url), printed)
            print(f"tour: step {number} of {len(steps)} printed what the README says")
    finally:
        shell.close()


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    readme, base_url, first_start_output, work = sys.argv[1:]
    try:
        run_tour(readme, base_url.rstrip("/"), first_start_output, Path(work))
    except TourFailure as failure:
        print(f"tour: FAILED: {failure}", file=sys.stderr)
        return 1
    print("tour: the README's five-minute tour is true")
    return 0


if __name__ == "__main__":
    sys.exit(main())
