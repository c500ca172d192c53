#!/bin/sh
# Builds shuoshi into a virtual environment at PREFIX. The container image runs exactly this
# (deploy/Dockerfile), so does a host install without containers (docs/deploy.md), and so does
# the test tests/deploy/test_build.py.
#
#   deploy/build.sh PREFIX [SOURCE]     e.g. deploy/build.sh /opt/shuoshi .
#
# PYTHON picks the interpreter (default python3, 3.11+); PIP_INSTALL_OPTIONS adds pip options
# (the test passes --no-deps and borrows the dependencies of the development environment).
set -eu
PREFIX=${1:?usage: deploy/build.sh PREFIX [SOURCE]}
SRC=${2:-.}
PYTHON=${PYTHON:-python3}

"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed")'
# A virtual environment without pip of its own (nothing installs into it at run time); the
# interpreter's pip installs into it.
"$PYTHON" -m venv --without-pip "$PREFIX"
# shellcheck disable=SC2086  # PIP_INSTALL_OPTIONS is a list of options
"$PYTHON" -m pip --python "$PREFIX/bin/python" install --quiet --disable-pip-version-check \
    ${PIP_INSTALL_OPTIONS:-} "$SRC"
mkdir -p "$PREFIX/share/shuoshi"
cp "$SRC/deploy/grid.demo.toml" "$PREFIX/share/shuoshi/grid.demo.toml"

# Smoke check: the installed package carries its migrations and the command runs them.
check=$(mktemp -d)
trap 'rm -rf "$check"' EXIT
(
    cd "$check"
    DATABASE_URL="sqlite:///$check/check.db" DATA_DIR="$check" \
        GRID_FILE="$PREFIX/share/shuoshi/grid.demo.toml" "$PREFIX/bin/shuoshi" db upgrade
)
echo "shuoshi built into $PREFIX"
