#Requires -Version 7.4
<#
.SYNOPSIS
Builds, tests and packages the SparseStorage module.

.DESCRIPTION
Build   compiles SparseStorage.sln and assembles out/SparseStorage/<version>/ with tools/SparseStorage.Packager
        (manifest, script module, views, assemblies, en-US help made from docs/en-US).
Test    Build, then the xunit suites, then the Pester 5 suites in tests/pester and its subfolders (Invoke-Pester
        finds *.Tests.ps1 recursively; Workflows/ holds the end-to-end ones) in a fresh pwsh, which import the
        built module from out/SparseStorage. Without Pester 5.2 or later the Pester suites are skipped with a warning.
Package Build, then zips the contents of out/SparseStorage/<version>/ into out/SparseStorage.<version>.zip; expand it
        into a Modules/SparseStorage/<version> folder to install.

.EXAMPLE
./build.ps1 -Task Test -Configuration Debug
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Package')]
    [string]$Task = 'Build',

    [ValidateSet('Debug', 'Release')]
    [string]$Configuration = 'Release'
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
# Exit codes are checked by Invoke-Native, which names the command that failed.
$PSNativeCommandUseErrorActionPreference = $false

$OutDir = Join-Path $PSScriptRoot 'out'
$ModuleVersion = (Import-PowerShellDataFile -LiteralPath (Join-Path $PSScriptRoot 'SparseStorage.psd1')).ModuleVersion
$ModuleDir = Join-Path $OutDir 'SparseStorage' $ModuleVersion

function Invoke-Native {
    param(
        [Parameter(Mandatory)]
        [string]$FilePath,

        [string[]]$ArgumentList = @()
    )
    $commandLine = "$FilePath $($ArgumentList -join ' ')"
    Write-Host "==> $commandLine"
    & $FilePath @ArgumentList
    if ($LASTEXITCODE -ne 0) {
        throw "'$commandLine' failed with exit code $LASTEXITCODE."
    }
}

function Invoke-Build {
    Invoke-Native dotnet @('build', 'SparseStorage.sln', '-c', $Configuration)
    Invoke-Native dotnet @(
        'run', '--project', 'tools/SparseStorage.Packager', '-c', $Configuration, '--',
        'assemble', '--root', $PSScriptRoot, '--configuration', $Configuration, '--out', $OutDir)
}

function Invoke-Test {
    Invoke-Build
    Invoke-Native dotnet @('test', 'SparseStorage.sln', '-c', $Configuration)

    # 5.1 brought BeforeDiscovery, -ForEach and a top-level AfterAll, which the suites use; before 5.2, -CI also
    # turned on code coverage of every script under the test path.
    $minimumPester = '5.2.0'
    $pester = Get-Module -ListAvailable Pester | Where-Object Version -ge $minimumPester
    if (-not $pester) {
        Write-Warning "Pester $minimumPester or later is not installed, so the Pester suites in tests/pester were not run. Install it with: Install-Module Pester -MinimumVersion $minimumPester -Scope CurrentUser"
        return
    }
    # A fresh process: no profile, and no SparseStorage or Pester already loaded in this session.
    $pwsh = (Get-Process -Id $PID).Path
    $pesterPath = (Join-Path $PSScriptRoot 'tests' 'pester').Replace("'", "''")
    $script = "Import-Module Pester -MinimumVersion $minimumPester; Invoke-Pester -Path '$pesterPath' -Output Detailed -CI"
    Invoke-Native $pwsh @('-NoProfile', '-NonInteractive', '-Command', $script)
}

function Invoke-Package {
    Invoke-Build
    $zip = Join-Path $OutDir "SparseStorage.$ModuleVersion.zip"
    Write-Host "==> compressing $ModuleDir into $zip"
    Compress-Archive -Path (Join-Path $ModuleDir '*') -DestinationPath $zip -Force
}

Push-Location $PSScriptRoot
try {
    switch ($Task) {
        'Build' { Invoke-Build }
        'Test' { Invoke-Test }
        'Package' { Invoke-Package }
    }
}
finally {
    Pop-Location
}
