# Module manifest of EdgeProv.psm1 (docs/windows.md): Import-Module "$env:ProgramFiles\edgeprov\EdgeProv"
@{
    RootModule           = 'EdgeProv.psm1'
    ModuleVersion        = '0.1.0'
    GUID                 = '6302970c-51b2-4b51-9cd7-4b51386550a9'
    Author               = 'edgeprov'
    Description          = 'Set up, monitor and reprovision edgeprov, the DPS provisioning service for Azure IoT Edge devices'
    PowerShellVersion    = '5.1'
    CompatiblePSEditions = @('Desktop', 'Core')
    FunctionsToExport    = @('Initialize-EdgeProv', 'Get-EdgeProvStatus', 'Invoke-EdgeProvReprovision', 'Get-EdgeProvLog')
    CmdletsToExport      = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
}
