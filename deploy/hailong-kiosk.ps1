# Hài Lòng — keeps the kiosk running on a Windows touch PC.
#
# Started at log-on by Task Scheduler (see deploy/windows-autostart.md). It
# runs main.py with the project's virtualenv and starts it again 2 seconds
# after it exits or crashes, like the systemd unit does on Linux.
# To stop the kiosk for maintenance, end the "Hai Long Kiosk" task in Task
# Scheduler first (this loop), then the app.
#
# The project folder is the one above this script's folder (deploy\..).

$ErrorActionPreference = 'Continue'
$root = Split-Path -Parent $PSScriptRoot
# pythonw: no console window behind the fullscreen kiosk.
$python = Join-Path $root '.venv\Scripts\pythonw.exe'
$main = Join-Path $root 'main.py'
$config = Join-Path $root 'config.yaml'
$env:KIVY_HOME = Join-Path $env:LOCALAPPDATA 'HaiLong\kivy'
$env:KIVY_NO_ARGS = '1'
$log = Join-Path $env:LOCALAPPDATA 'HaiLong\restarts.log'
New-Item -ItemType Directory -Force -Path (Split-Path -Parent $log) | Out-Null

while ($true) {
    $started = Get-Date
    $app = Start-Process -FilePath $python -ArgumentList @("`"$main`"", '--config', "`"$config`"") `
        -WorkingDirectory $root -PassThru -Wait
    Add-Content -Path $log -Value ("{0:s} exited with {1} after {2:N0} s" -f (Get-Date), $app.ExitCode, ((Get-Date) - $started).TotalSeconds)
    # 64: the technician chose "exit" in the kiosk's panel; stay stopped.
    if ($app.ExitCode -eq 64) { break }
    Start-Sleep -Seconds 2
}
