#!/usr/bin/env python3
"""Checks that the `tweedie` commands shown in README.md and docs/*.md still run.

Run: TWEEDIE_CLI=.build/debug/tweedie python3 scripts/check_docs.py [FILE.md ...]

A command is a line `$ tweedie ...` inside a fenced code block (a trailing backslash continues it
on the next line). The lines after it, up to the next `$` line or the end of the block, are its
output as the doc shows it. The commands of one file run in order, through `bash -c`, in a fresh
temporary directory holding a copy of the repository's `examples/` and empty `out/` and `docs/`
folders, so that `examples/ring8-points.npy`, `out/x.npz` and `--plot docs/demo.svg` resolve there
and the repository's files are never written. `tweedie` is a copy, taken at the start, of the
binary named by the environment variable TWEEDIE_CLI (default: .build/debug/tweedie in the
repository), with the resource folder beside it (the explorer's page).

A command must exit with status 0, unless its output in the doc begins with `tweedie: error:`: then
it must exit non-zero with exactly one line on stderr, starting with `tweedie: error:`.

`<!-- docs-check: skip (reason) -->` on the line before a code block skips the block's commands
(for a cluster or a run of minutes); they are listed, and only their subcommand is checked to
exist (`tweedie compare --help` for `tweedie compare ... --slurm 4`). Other `$` lines
(`$ python ...`, `$ make ...`, `$ rm ...`) are shown, not run.

The last line printed is `docs: N passed, M failed` (`, K skipped` appended when some were
skipped); the exit status is 1 if any command failed. Only the Python standard library is used.
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FENCE = re.compile(r"^\s*(```|~~~)")
SKIP = re.compile(r"^\s*<!--\s*docs-check:\s*skip\s*(?:\((.*)\))?\s*-->\s*$")
ERROR_PREFIX = "tweedie: error:"
TIMEOUT_SECONDS = float(os.environ.get("DOCS_CHECK_TIMEOUT", "1800"))


class Command:
    def __init__(self, path, line, text, output, skip_reason):
        self.path = path                # the doc, relative to the repository
        self.line = line                # 1-based line of the `$` in the doc
        self.text = text                # the command, without the `$ `
        self.output = output            # the lines shown after it
        self.skip_reason = skip_reason  # None, or why its block is skipped

    @property
    def expects_error(self):
        shown = [line for line in self.output if line.strip()]
        return bool(shown) and shown[0].lstrip().startswith(ERROR_PREFIX)

    def where(self):
        return f"{self.path}:{self.line}"


def commands_in(path):
    """The `$ tweedie` commands of a Markdown file, in order, with the output shown after each."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    relative = os.path.relpath(path, REPOSITORY)
    if relative.startswith(os.pardir):
        relative = path
    found = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        previous = i - 1
        while previous >= 0 and not lines[previous].strip():
            previous -= 1
        marker = SKIP.match(lines[previous]) if previous >= 0 else None
        skip_reason = (marker.group(1) or "no reason given") if marker else None
        fence = opening.group(1)
        block = []
        i += 1
        while i < len(lines) and not lines[i].lstrip().startswith(fence):
            block.append((i + 1, lines[i]))
            i += 1
        i += 1  # past the closing fence
        j = 0
        while j < len(block):
            number, text = block[j]
            if not text.startswith("$ "):
                j += 1
                continue
            command = text[2:].strip()
            while command.endswith("\\") and j + 1 < len(block):
                j += 1
                command = command[:-1].rstrip() + " " + block[j][1].strip()
            j += 1
            output = []
            while j < len(block) and not block[j][1].startswith("$ "):
                output.append(block[j][1])
                j += 1
            if command == "tweedie" or command.startswith("tweedie "):
                found.append(Command(relative, number, command, output, skip_reason))
    return found


def workspace(bin_directory):
    """A fresh temporary directory with a copy of examples/ and empty out/ and docs/, and the
    environment in which `tweedie` is the binary under test (in bin_directory)."""
    directory = tempfile.mkdtemp(prefix="tweedie-docs-")
    shutil.copytree(os.path.join(REPOSITORY, "examples"), os.path.join(directory, "examples"))
    os.mkdir(os.path.join(directory, "out"))
    os.mkdir(os.path.join(directory, "docs"))
    env = dict(os.environ)
    env["PATH"] = bin_directory + os.pathsep + env.get("PATH", "")
    return directory, env


def shell(text, directory, env, timeout):
    return subprocess.run(["bash", "-c", text], cwd=directory, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


def run(command, directory, env):
    """Runs a command; returns (as expected?, why not, stderr, seconds)."""
    started = time.monotonic()
    try:
        process = shell(command.text, directory, env, TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired as timeout:
        stderr = timeout.stderr or ""
        if isinstance(stderr, bytes):
            stderr = stderr.decode(errors="replace")
        return False, f"no exit after {TIMEOUT_SECONDS:g} s", stderr, time.monotonic() - started
    elapsed = time.monotonic() - started
    stderr_lines = [line for line in process.stderr.splitlines() if line.strip()]
    if command.expects_error:
        if process.returncode == 0:
            return False, "exit status 0, but the doc shows an error", process.stderr, elapsed
        if len(stderr_lines) != 1 or not stderr_lines[0].startswith(ERROR_PREFIX):
            return (False, f"exit status {process.returncode}, but stderr is not one line starting with "
                    f"`{ERROR_PREFIX}`", process.stderr, elapsed)
        shown = next(line.strip() for line in command.output if line.strip())
        if stderr_lines[0].strip() != shown:
            print(f"note {command.where()}: the error reads `{stderr_lines[0].strip()}`, the doc shows `{shown}`",
                  flush=True)
        return True, "", process.stderr, elapsed
    if process.returncode != 0:
        return False, f"exit status {process.returncode}", process.stderr, elapsed
    return True, "", process.stderr, elapsed


def subcommand_exists(command, directory, env):
    """For a skipped command: whether `tweedie SUBCOMMAND... --help` still describes that
    subcommand; returns (exists?, why not, stderr)."""
    try:
        words = shlex.split(command.text)
    except ValueError:
        words = command.text.split()
    path = []
    for word in words[1:]:
        if word.startswith("-"):
            break
        path.append(word)
    probe = shlex.join(["tweedie"] + path + ["--help"])
    process = shell(probe, directory, env, 60)
    # An unknown subcommand with --help prints the top-level help and exits 0, so the usage line
    # must name the subcommand.
    usage = "USAGE: " + " ".join(["tweedie"] + path)
    ok = process.returncode == 0 and any(line.strip() == usage or line.strip().startswith(usage + " ")
                                         for line in process.stdout.splitlines())
    return ok, f"`{probe}` does not show `{usage}`", process.stderr


def main(arguments):
    if arguments and arguments[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    if arguments:
        paths = [os.path.abspath(p) for p in arguments]
    else:
        docs = os.path.join(REPOSITORY, "docs")
        paths = [os.path.join(REPOSITORY, "README.md")] + sorted(
            os.path.join(docs, name) for name in os.listdir(docs) if name.endswith(".md"))
    given = os.environ.get("TWEEDIE_CLI")
    binary = os.path.abspath(given) if given else os.path.join(REPOSITORY, ".build", "debug", "tweedie")
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        print(f"docs: {binary} is not an executable file (set TWEEDIE_CLI to the tweedie binary)",
              file=sys.stderr)
        return 2

    # A private copy of the binary: a rebuild during the run neither changes it nor makes it busy.
    # Its resources (the explorer's page) travel with it, as they would in an installation.
    bin_directory = tempfile.mkdtemp(prefix="tweedie-docs-bin-")
    try:
        shutil.copy2(binary, os.path.join(bin_directory, "tweedie"))
        resources = os.path.join(os.path.dirname(os.path.realpath(binary)), "Tweedie_TweedieCLI.resources")
        if os.path.isdir(resources):
            shutil.copytree(resources, os.path.join(bin_directory, "Tweedie_TweedieCLI.resources"))
        return check(paths, bin_directory)
    finally:
        shutil.rmtree(bin_directory, ignore_errors=True)


def check(paths, bin_directory):
    passed, failed, skipped = 0, [], []
    for path in paths:
        commands = commands_in(path)
        if not commands:
            continue
        directory, env = workspace(bin_directory)
        try:
            for command in commands:
                if command.skip_reason is not None:
                    exists, probe, stderr = subcommand_exists(command, directory, env)
                    if exists:
                        skipped.append(command)
                        print(f"skip {command.where()}: $ {command.text}  ({command.skip_reason})", flush=True)
                    else:
                        failed.append((command, f"skipped ({command.skip_reason}), but {probe}", stderr))
                        print(f"FAIL {command.where()}: $ {command.text}  (skipped, but {probe})", flush=True)
                    continue
                ok, why, stderr, elapsed = run(command, directory, env)
                if ok:
                    passed += 1
                    print(f"ok   {command.where()} ({elapsed:.1f} s): $ {command.text}", flush=True)
                else:
                    failed.append((command, why, stderr))
                    print(f"FAIL {command.where()} ({elapsed:.1f} s): $ {command.text}", flush=True)
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    for command, why, stderr in failed:
        print(f"\nfailed: {command.where()}\n  $ {command.text}\n  {why}")
        for line in (stderr.rstrip().splitlines() or ["(stderr empty)"]):
            print(f"  stderr: {line}")
    if failed:
        print()
    summary = f"docs: {passed} passed, {len(failed)} failed"
    if skipped:
        summary += f", {len(skipped)} skipped"
    print(summary)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
