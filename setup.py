"""Package layout of the wheel (everything else is in pyproject.toml).

The repository keeps its folders where people look for them (``server/``, ``prompts/``,
``eval/scenarios/``); the wheel installs them under names that cannot clash with anything else on a
user's path: ``promptloop_server`` (the HTTP app, found by ``promptloop serve`` through the
``promptloop.apps`` entry point), and the templates and scenario suites as data of ``promptloop``.
pyproject.toml cannot rename a found package, hence this file.
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["promptloop", "promptloop.*"]),
        "promptloop.prompts",
        "promptloop.evaluation.suites",
        *("promptloop_server" + name[len("server"):] for name in find_packages(include=["server", "server.*"])),
        # folders of data files only
        "promptloop_server.static",
        "promptloop.service.migrations.versions",
    ],
    package_dir={
        "promptloop.prompts": "prompts",
        "promptloop.evaluation.suites": "eval/scenarios",
        "promptloop_server": "server",
    },
    package_data={
        "promptloop.prompts": ["*.toml"],
        "promptloop.evaluation.suites": ["*.yaml"],
        "promptloop_server.static": ["*.html", "*.css", "*.js"],
        "promptloop.service.migrations": ["script.py.mako"],
        "promptloop.service.migrations.versions": ["*.py"],
    },
)
