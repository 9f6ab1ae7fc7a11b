# EdgeProv.psm1 — PowerShell commands for edgeprov on Windows: set it up, watch it, reprovision, read its
# log. Everything goes through edgeprovctl.exe, the service's pipe (docs/ipc-api.md) or the Event Log;
# nothing here touches the TPM or edits the configuration file itself. Documented in docs/windows.md.
Set-StrictMode -Version 3.0

$script:ServiceName = 'edgeprov'    # the SCM service (edgeprovd.exe install)
$script:EventSource = 'edgeprovd'   # its Event Log source, in the Application log

# edgeprovctl.exe beside this module (installed layout: edgeprov\EdgeProv\ and edgeprov\bin\), else PATH.
function Get-EdgeProvCtlPath {
    $beside = Join-Path $PSScriptRoot '..\bin\edgeprovctl.exe'
    if (Test-Path -LiteralPath $beside) { return (Resolve-Path -LiteralPath $beside).ProviderPath }
    $onPath = Get-Command -Name 'edgeprovctl.exe' -CommandType Application -ErrorAction SilentlyContinue |
        Select-Object -First 1
    if ($onPath) { return $onPath.Source }
    throw 'edgeprovctl.exe is neither beside this module nor on PATH: install edgeprov first.'
}

# One JSON-RPC call on the pipe; returns the result object, throws the service's error message.
function Invoke-EdgeProvRpc {
    param([Parameter(Mandatory)][string]$Method, [string]$Pipe = 'edgeprov', [int]$TimeoutMs = 5000)
    # GENERIC_READ | FILE_WRITE_DATA in specific rights ('Read' is FILE_GENERIC_READ without SYNCHRONIZE):
    # never GENERIC_WRITE, whose FILE_CREATE_PIPE_INSTANCE the pipe's DACL refuses to ordinary users.
    $rights = [System.IO.Pipes.PipeAccessRights]'Read, WriteData, Synchronize'
    # That constructor exists in Windows PowerShell 5.1 (.NET Framework) and PowerShell 7.5+ (.NET 9+).
    $ctor = [System.IO.Pipes.NamedPipeClientStream].GetConstructor([type[]]@([string], [string],
        [System.IO.Pipes.PipeAccessRights], [System.IO.Pipes.PipeOptions],
        [System.Security.Principal.TokenImpersonationLevel], [System.IO.HandleInheritability]))
    if ($null -eq $ctor) {
        if ($Method -ne 'status') { throw "This PowerShell cannot open the edgeprov pipe with the rights it needs: use Windows PowerShell 5.1 or PowerShell 7.5 or later." }
        # Exit code 3 is "running, not provisioned": the document is printed all the same.
        $json = & (Get-EdgeProvCtlPath) --endpoint "\\.\pipe\$Pipe" --json status
        if ($LASTEXITCODE -notin 0, 3) { throw "edgeprovctl status failed with exit code $LASTEXITCODE (see its message above)." }
        return ($json | Out-String | ConvertFrom-Json)
    }
    $stream = [System.IO.Pipes.NamedPipeClientStream]::new('.', $Pipe, $rights, [System.IO.Pipes.PipeOptions]::None,
        [System.Security.Principal.TokenImpersonationLevel]::Identification, [System.IO.HandleInheritability]::None)
    try {
        try { $stream.Connect($TimeoutMs) } catch [System.TimeoutException] {
            throw "edgeprovd does not answer on \\.\pipe\$Pipe`: is the service running? (Get-Service $script:ServiceName; Start-Service $script:ServiceName)"
        }
        $utf8 = New-Object System.Text.UTF8Encoding($false)
        $writer = New-Object System.IO.StreamWriter($stream, $utf8)
        $writer.NewLine = "`n"
        $writer.AutoFlush = $true
        $reader = New-Object System.IO.StreamReader($stream, $utf8)
        $request = @{ jsonrpc = '2.0'; id = 1; method = $Method } | ConvertTo-Json -Compress
        $writer.WriteLine($request)
        $line = $reader.ReadLine()
        if ($null -eq $line) { throw "edgeprovd closed the pipe without answering '$Method'." }
        $answer = $line | ConvertFrom-Json
        if ($answer.PSObject.Properties['error']) {
            throw "edgeprovd: $($answer.error.message) (JSON-RPC error $($answer.error.code))"
        }
        return $answer.result
    } finally {
        $stream.Dispose()
    }
}

<#
.SYNOPSIS
Configures edgeprov for DPS with the device's TPM (edgeprovctl init) and starts the service.
.EXAMPLE
Initialize-EdgeProv -Dps -ScopeId 0ne00000000
.EXAMPLE
Initialize-EdgeProv -Dps -ScopeId 0ne00000000 -RegistrationId edge-01 -Tcti 'swtpm:host=127.0.0.1,port=2321' -Force
#>
function Initialize-EdgeProv {
    [CmdletBinding(SupportsShouldProcess)]
    param(
        [Parameter(Mandatory)][switch]$Dps,               # as Initialize-IoTEdge: DPS is the only source
        [Parameter(Mandatory)][string]$ScopeId,
        [string]$RegistrationId,                          # default: derived from the TPM's EK
        [string]$Tcti,                                    # default: tbs, the device's TPM
        [string]$GlobalEndpoint,                          # default: global.azure-devices-provisioning.net
        [switch]$Force                                    # replace an existing config.toml
    )
    $arguments = @('init', '--scope-id', $ScopeId)
    if ($RegistrationId) { $arguments += @('--registration-id', $RegistrationId) }
    if ($Tcti) { $arguments += @('--tcti', $Tcti) }
    if ($GlobalEndpoint) { $arguments += @('--global-endpoint', $GlobalEndpoint) }
    if ($Force) { $arguments += '--force' }
    if (-not $PSCmdlet.ShouldProcess("%ProgramData%\edgeprov\config.toml and the service $script:ServiceName", 'edgeprovctl init, then start')) { return }

    & (Get-EdgeProvCtlPath) @arguments
    if ($LASTEXITCODE -ne 0) { throw "edgeprovctl init failed with exit code $LASTEXITCODE (see its message above)." }
    $service = Get-Service -Name $script:ServiceName -ErrorAction Stop
    # A running service read the old file: restart it. The SCM reports Running only once the pipe answers.
    if ($service.Status -eq 'Running') { Restart-Service -Name $script:ServiceName } else { Start-Service -Name $script:ServiceName }
    Get-EdgeProvStatus
}

<#
.SYNOPSIS
The service's status document (docs/ipc-api.md), read from its pipe. Never waits for the TPM or DPS.
.EXAMPLE
(Get-EdgeProvStatus).state
#>
function Get-EdgeProvStatus {
    [CmdletBinding()]
    param([string]$Pipe = 'edgeprov')
    Invoke-EdgeProvRpc -Method 'status' -Pipe $Pipe
}

<#
.SYNOPSIS
Asks the service to register with DPS again now. Needs an elevated prompt (an administrator's token).
#>
function Invoke-EdgeProvReprovision {
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'High')]
    param([string]$Pipe = 'edgeprov')
    if ($PSCmdlet.ShouldProcess("edgeprovd on \\.\pipe\$Pipe", 'reprovision')) {
        Invoke-EdgeProvRpc -Method 'reprovision' -Pipe $Pipe
    }
}

<#
.SYNOPSIS
The service's entries in the Application event log (source edgeprovd), newest first.
.EXAMPLE
Get-EdgeProvLog -Newest 20 -Level Error, Warning
#>
function Get-EdgeProvLog {
    [CmdletBinding()]
    param(
        [ValidateRange(1, 100000)][int]$Newest = 100,
        [datetime]$After,
        [ValidateSet('Error', 'Warning', 'Information')][string[]]$Level
    )
    $filter = @{ LogName = 'Application'; ProviderName = $script:EventSource }
    if ($PSBoundParameters.ContainsKey('After')) { $filter.StartTime = $After }
    if ($Level) { $filter.Level = @($Level | ForEach-Object { @{ Error = 2; Warning = 3; Information = 4 }[$_] }) }
    try {
        Get-WinEvent -FilterHashtable $filter -MaxEvents $Newest -ErrorAction Stop |
            Select-Object TimeCreated, LevelDisplayName, Message
    } catch {
        if ($_.FullyQualifiedErrorId -notlike 'NoMatchingEventsFound*') { throw }
    }
}

Export-ModuleMember -Function Initialize-EdgeProv, Get-EdgeProvStatus, Invoke-EdgeProvReprovision, Get-EdgeProvLog
