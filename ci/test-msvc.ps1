# SPDX-License-Identifier: MIT
# Builds mproc with MSVC and runs its tests (the Windows CI job).
#
#   pwsh ci/test-msvc.ps1
#
# GoogleTest is fetched by CMake (MPROC_FETCH_GTEST) when the machine has
# none. Only what the
# Windows backend has is built: Process, spawn and pid inspection.
$ErrorActionPreference = 'Stop'
$root = Split-Path -Parent $PSScriptRoot
$build = Join-Path $root 'build/ci-msvc'

cmake -S $root -B $build -DMPROC_FETCH_GTEST=ON
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
cmake --build $build --config RelWithDebInfo --parallel 2
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
Push-Location $build
try {
  ctest -C RelWithDebInfo --output-on-failure -j 2
  if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
} finally {
  Pop-Location
}
