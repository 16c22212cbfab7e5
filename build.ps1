#Requires -Version 7.4
<#
.SYNOPSIS
Builds, tests and packages the SparseStorage module.

.DESCRIPTION
Build   compiles SparseStorage.sln and assembles out/SparseStorage/<version>/ with tools/SparseStorage.Packager
        (manifest, views, assemblies, en-US help made from docs/en-US), and beside it out/SparseStorageDsc/<version>/,
        the class-based DSC resources' script module, which requires SparseStorage.
Test    Build, then the style check (the text rules of .editorconfig on every tracked source file, and
        'dotnet format style --verify-no-changes' on the solution), then the xunit suites, then the Pester suites in tests/pester and its subfolders (Invoke-Pester
        finds *.Tests.ps1 recursively; Workflows/ holds the end-to-end ones) in a fresh pwsh, which import the
        built module from out/SparseStorage. Pester 5.7.1 is used where installed, else downloaded from NuGet into
        out/modules. Writes the trx files, Pester's NUnit report and its counts to -ResultsDirectory, prints the
        counts of each suite and closes with 'N passed, N failed' over both; any failure, or a style violation,
        makes the exit code 1.
Package Build, then zips the contents of out/SparseStorage/<version>/ into out/SparseStorage.<version>.zip and of
        out/SparseStorageDsc/<version>/ into out/SparseStorageDsc.<version>.zip; expand each into a
        Modules/<name>/<version> folder to install.

.EXAMPLE
./build.ps1 -Task Test -Configuration Debug
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Package')]
    [string]$Task = 'Build',

    [ValidateSet('Debug', 'Release')]
    [string]$Configuration = 'Release',

    # Test only: emptied, then filled with xunit/*.trx, pester.xml (NUnit) and pester.json (Pester's counts).
    [string]$ResultsDirectory = (Join-Path $PSScriptRoot 'out' 'test-results')
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
# Exit codes are checked by Invoke-Native, which names the command that failed.
$PSNativeCommandUseErrorActionPreference = $false

$OutDir = Join-Path $PSScriptRoot 'out'
$ModuleVersion = (Import-PowerShellDataFile -LiteralPath (Join-Path $PSScriptRoot 'SparseStorage.psd1')).ModuleVersion
# Pinned: Pester 6 changes behaviour the suites rely on, and -MinimumVersion would pick it where it is installed.
$PesterVersion = [version] '5.7.1'

function Invoke-Native {
    param(
        [Parameter(Mandatory)]
        [string]$FilePath,

        [string[]]$ArgumentList = @()
    )
    $commandLine = "$FilePath $($ArgumentList -join ' ')"
    Write-Host "==> $commandLine"
    # To the host: a function's output is its return value, and a tool's output is no part of it.
    & $FilePath @ArgumentList | Out-Host
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

function ConvertTo-QuotedLiteral([string] $Text) {
    "'" + $Text.Replace("'", "''") + "'"
}

# The manifest of Pester $PesterVersion: an installed one, else the copy in out/modules, downloaded from NuGet (the
# package's tools/ folder is the module) when missing. NuGet rather than PSGallery: it is reachable wherever dotnet is.
function Get-PesterManifest {
    $installed = Get-Module -ListAvailable -Name Pester | Where-Object Version -EQ $PesterVersion | Select-Object -First 1
    if ($null -ne $installed) {
        return $installed.Path
    }
    $folder = Join-Path $OutDir 'modules' 'Pester' $PesterVersion
    $manifest = Join-Path $folder 'Pester.psd1'
    if (-not (Test-Path -LiteralPath $manifest -PathType Leaf)) {
        $download = Join-Path ([System.IO.Path]::GetTempPath()) "sparsestorage-pester-$([guid]::NewGuid().ToString('N'))"
        try {
            Invoke-Native dotnet @('package', 'download', "Pester@$PesterVersion", '--output', $download)
            # Copied beside, then renamed: an interrupted copy is never taken for the module.
            $staging = "$folder.partial"
            Remove-Item -LiteralPath $staging -Recurse -Force -ErrorAction Ignore
            Copy-Item -LiteralPath (Join-Path $download 'pester' $PesterVersion 'tools') -Destination $staging -Recurse
            Move-Item -LiteralPath $staging -Destination $folder
        }
        finally {
            Remove-Item -LiteralPath $download -Recurse -Force -ErrorAction Ignore
        }
    }
    $manifest
}

# Sums the counters of every trx file in a directory (one per test project).
function Get-XunitCount([string] $Directory) {
    $count = [pscustomobject]@{ Files = 0; Passed = 0; Failed = 0; Skipped = 0 }
    foreach ($file in @(Get-ChildItem -LiteralPath $Directory -Filter '*.trx' -File -ErrorAction Ignore)) {
        $counters = ([xml] (Get-Content -LiteralPath $file.FullName -Raw)).TestRun.ResultSummary.Counters
        $count.Files++
        # GetAttribute gives '' (0) for a counter a writer leaves out.
        $count.Passed += [int] $counters.GetAttribute('passed')
        $count.Failed += [int] $counters.GetAttribute('failed') + [int] $counters.GetAttribute('error') +
            [int] $counters.GetAttribute('timeout') + [int] $counters.GetAttribute('aborted')
        # Skipped tests are counted in total but in no outcome counter (notExecuted stays 0).
        $count.Skipped += [int] $counters.GetAttribute('total') - [int] $counters.GetAttribute('executed')
    }
    $count
}

function Invoke-XunitSuite([string] $Directory) {
    $arguments = @('test', 'SparseStorage.sln', '-c', $Configuration, '--no-build', '--logger', 'trx', '--results-directory', $Directory)
    Write-Host "==> dotnet $($arguments -join ' ')"
    & dotnet @arguments | Out-Host
    $LASTEXITCODE
}

# Runs the Pester suites in a fresh pwsh (no profile, no SparseStorage or Pester loaded yet), started from $PSHOME:
# the .NET global tool's pwsh is a shim running 'dotnet pwsh.dll', so this process's own path would be dotnet. The
# child writes Pester's counts to pester.json from its PassThru result; returns the child's exit code.
function Invoke-PesterSuite([string] $Directory) {
    $pesterManifest = Get-PesterManifest
    $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module -Name $(ConvertTo-QuotedLiteral $pesterManifest)
`$configuration = New-PesterConfiguration
`$configuration.Run.Path = $(ConvertTo-QuotedLiteral (Join-Path $PSScriptRoot 'tests' 'pester'))
`$configuration.Run.PassThru = `$true
`$configuration.Output.Verbosity = 'Detailed'
`$configuration.TestResult.Enabled = `$true
`$configuration.TestResult.OutputPath = $(ConvertTo-QuotedLiteral (Join-Path $Directory 'pester.xml'))
`$result = Invoke-Pester -Configuration `$configuration
`$result | Select-Object -Property Result, PassedCount, FailedCount, FailedBlocksCount, FailedContainersCount, SkippedCount, NotRunCount, TotalCount |
    ConvertTo-Json | Set-Content -LiteralPath $(ConvertTo-QuotedLiteral (Join-Path $Directory 'pester.json'))
exit [int] (`$result.Result -ne 'Passed')
"@
    $pwsh = Join-Path $PSHOME 'pwsh'
    Write-Host "==> $pwsh -NoProfile -NonInteractive -Command <Invoke-Pester tests/pester with Pester $PesterVersion>"
    & $pwsh -NoProfile -NonInteractive -Command $script | Out-Host
    $LASTEXITCODE
}

# Pester's counts from the child's pester.json; failures include failed BeforeAll/AfterAll blocks and test files
# that could not run at all, which no test's count shows.
function Get-PesterCount([string] $Directory) {
    $path = Join-Path $Directory 'pester.json'
    if (-not (Test-Path -LiteralPath $path -PathType Leaf)) {
        return $null
    }
    $result = Get-Content -LiteralPath $path -Raw | ConvertFrom-Json
    [pscustomobject]@{
        Passed  = [int] $result.PassedCount
        Failed  = [int] $result.FailedCount + [int] $result.FailedBlocksCount + [int] $result.FailedContainersCount
        Skipped = [int] $result.SkippedCount + [int] $result.NotRunCount
        Detail  = "tests $($result.FailedCount), blocks $($result.FailedBlocksCount), files $($result.FailedContainersCount)"
    }
}

# The .editorconfig rules every text file follows: LF line ends, a final newline, no trailing whitespace, spaces not
# tabs. Returns the violations as 'path: rule'.
function Get-TextStyleViolation {
    $pattern = '\.(cs|ps1|psm1|psd1|sh|ps1xml|csproj|props|json)$|^\.ci/run$|^\.editorconfig$'
    foreach ($file in @(git ls-files) -match $pattern) {
        $text = [System.IO.File]::ReadAllText((Join-Path $PSScriptRoot $file))
        if ($text.Length -eq 0) {
            continue
        }
        if ($text.Contains("`r")) { "${file}: CR line ends" }
        if (-not $text.EndsWith("`n")) { "${file}: no final newline" }
        if ($text -match '(?m)[ \t]+$') { "${file}: trailing whitespace" }
        if ($text -match '(?m)^\t') { "${file}: tab indentation" }
    }
}

# The style check: the text rules, then the C# style rules of .editorconfig at warning severity (file-scoped
# namespaces, using directives sorted System first) through the SDK's own formatter, which needs no network once the
# solution is restored. Roslyn's whitespace formatter is not run: it rewrites the object initializers this code
# indents under their constructor call. Returns $true when clean.
function Test-Style {
    $violations = @(Get-TextStyleViolation)
    $violations | ForEach-Object { Write-Host $_ }
    Write-Host "==> text rules of .editorconfig: $($violations.Count) violations"
    $arguments = @('format', 'style', 'SparseStorage.sln', '--verify-no-changes', '--severity', 'warn', '--no-restore', '-v', 'q')
    Write-Host "==> dotnet $($arguments -join ' ')"
    & dotnet @arguments | Out-Host
    $formatExit = $LASTEXITCODE
    $violations.Count -eq 0 -and $formatExit -eq 0
}

# Both suites run even when the first fails; sets $ExitCode to 0 only when both ran and all passed.
function Invoke-Test {
    Invoke-Build
    $styleOk = Test-Style
    Remove-Item -LiteralPath $ResultsDirectory -Recurse -Force -ErrorAction Ignore
    $xunitDirectory = Join-Path $ResultsDirectory 'xunit'
    $null = New-Item -ItemType Directory -Path $xunitDirectory -Force

    $xunitExit = Invoke-XunitSuite $xunitDirectory
    $pesterExit = Invoke-PesterSuite $ResultsDirectory

    $xunit = Get-XunitCount $xunitDirectory
    $pester = Get-PesterCount $ResultsDirectory
    $ok = $styleOk -and $xunitExit -eq 0 -and $pesterExit -eq 0 -and $xunit.Files -gt 0 -and $null -ne $pester
    Write-Host "xunit: $($xunit.Passed) passed, $($xunit.Failed) failed, $($xunit.Skipped) skipped ($($xunit.Files) trx files, dotnet test exit code $xunitExit)"
    if ($null -eq $pester) {
        Write-Host "Pester: no counts (the child pwsh exited with $pesterExit before writing pester.json)"
        $pester = [pscustomobject]@{ Passed = 0; Failed = 0 }
    }
    else {
        Write-Host "Pester: $($pester.Passed) passed, $($pester.Failed) failed ($($pester.Detail)), $($pester.Skipped) skipped (exit code $pesterExit)"
    }
    $passed = $xunit.Passed + $pester.Passed
    $failed = $xunit.Failed + $pester.Failed
    if ($passed -eq 0) {
        Write-Host 'no test ran'
        $ok = $false
    }
    if (-not $styleOk) {
        Write-Host 'style check failed (see the violations above)'
    }
    Write-Host "$passed passed, $failed failed"
    $script:ExitCode = if ($ok -and $failed -eq 0) { 0 } else { 1 }
}

function Invoke-Package {
    Invoke-Build
    foreach ($module in 'SparseStorage', 'SparseStorageDsc') {
        $folder = Join-Path $OutDir $module $ModuleVersion
        $zip = Join-Path $OutDir "$module.$ModuleVersion.zip"
        Write-Host "==> compressing $folder into $zip"
        Compress-Archive -Path (Join-Path $folder '*') -DestinationPath $zip -Force
    }
}

$ExitCode = 0
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
exit $ExitCode
