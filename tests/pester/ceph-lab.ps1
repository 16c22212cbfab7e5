# Shared by the Ceph suites (Ceph*.Tests.ps1): each brings up its own cluster from tests/ceph/lab.sh in BeforeAll and
# always takes it down in AfterAll. Dot-source it after prerequisites.ps1 (BeforeDiscovery: for $SkipCeph) and after
# common.ps1 (BeforeAll: for the lab functions). The functions read $LabDirectory and $CephConfig from the suite, and
# Invoke-SecondHost also $SecondHost, $PoolName, $Namespace and $CephKeyring.

$CephLabTools = 'ceph', 'rbd', 'ceph-mon', 'ceph-mgr', 'ceph-osd', 'ceph-authtool', 'monmaptool', 'qemu-storage-daemon', 'qemu-io', 'jq', 'uuidgen'
# A lab needs root, FUSE, qemu's rbd driver and the Ceph packages; without them the suite is skipped, unless
# SPARSESTORAGE_INTEGRATION=require makes that a failure.
$CephLabPossible = $RequireIntegration -or ($IsRoot -and (Test-Tool $CephLabTools) -and (Test-Path -LiteralPath '/dev/fuse'))
$SkipCeph = -not $CephLabPossible

# A directory for a new lab of this suite under /var/tmp (lab.sh derives its namespace and link names from it).
function New-CephLabDirectory([string] $Suite) {
    '/var/tmp/sstest-{0}-pester-{1}' -f $Suite, [guid]::NewGuid().ToString('N').Substring(0, 8)
}

# Gives the calling suite (its BeforeAll) its test environment and lab: $TestEnv (New-TestEnvironment), $LabDirectory,
# $CephConfig, $CephKeyring (client.sparse's keyring) and $Namespace, the RBD namespace Start-CephLab creates.
function Initialize-CephSuite([string] $Suite) {
    $directory = New-CephLabDirectory $Suite
    Set-Variable -Scope 1 -Name TestEnv -Value (New-TestEnvironment -Name $Suite)
    Set-Variable -Scope 1 -Name LabDirectory -Value $directory
    Set-Variable -Scope 1 -Name CephConfig -Value (Join-Path $directory 'ceph.conf')
    Set-Variable -Scope 1 -Name CephKeyring -Value (Join-Path $directory 'client.sparse.keyring')
    Set-Variable -Scope 1 -Name Namespace -Value 'pester'
}

# Brings the lab up in $LabDirectory and creates the RBD namespace $Namespace; a failed start is taken down again.
function Start-CephLab([string] $Namespace) {
    $labOutput = & bash (Join-Path $SparseStorageRepositoryRoot 'tests/ceph/lab.sh') up $LabDirectory 2>&1
    if ($LASTEXITCODE -ne 0) {
        Stop-CephLab
        throw "lab.sh up failed ($LASTEXITCODE): $($labOutput -join "`n")"
    }
    $null = Invoke-AdminRbd namespace create --pool rbd --namespace $Namespace
}

# Stops every daemon of the lab in $LabDirectory, deletes its namespaces and links, and removes the directory.
function Stop-CephLab {
    $labOutput = & bash (Join-Path $SparseStorageRepositoryRoot 'tests/ceph/lab.sh') down $LabDirectory 2>&1
    if ($LASTEXITCODE -ne 0) {
        Write-Warning "lab.sh down failed ($LASTEXITCODE): $($labOutput -join "`n")"
    }
}

# Runs lab.sh VERB on the suite's lab with more arguments (add-osd, isolate-osd N, restore-osd N); throws when it fails.
function Invoke-CephLab([string] $Verb) {
    $labOutput = & bash (Join-Path $SparseStorageRepositoryRoot 'tests/ceph/lab.sh') $Verb $LabDirectory @args 2>&1
    if ($LASTEXITCODE -ne 0) {
        throw "lab.sh $Verb $args failed ($LASTEXITCODE): $($labOutput -join "`n")"
    }
}

# The test's own hand on the cluster: ceph as client.admin (JSON output parsed), independent of the module.
function Invoke-AdminCeph {
    $output = & ceph --conf $CephConfig --id admin --keyring (Join-Path $LabDirectory 'client.admin.keyring') --connect-timeout 30 @args --format json 2>&1
    if ($LASTEXITCODE -ne 0) {
        throw "ceph $args failed ($LASTEXITCODE): $output"
    }
    $output | ConvertFrom-Json
}

# Runs a script in a second pwsh with the second host's configuration and runtime directory ($SecondHost/pools.json,
# $SecondHost/run), registering the suite's pool there first; returns its output and its errors' ids and messages
# as text ("ERROR <FullyQualifiedErrorId>: <message>").
function Invoke-SecondHost([string] $Script) {
    $prelude = @"
`$env:SPARSESTORAGE_CONFIG = '$SecondHost/pools.json'
`$env:SPARSESTORAGE_RUNTIME_DIR = '$SecondHost/run'
`$ErrorActionPreference = 'Stop'
Import-Module '$SparseStorageManifestPath'
if (-not (Get-StoragePool -Name '$PoolName' -ErrorAction Ignore)) {
    `$null = Register-StoragePool -Name '$PoolName' -CephPool rbd -CephNamespace '$Namespace' -CephConfig '$CephConfig' -CephUser sparse -CephKeyring '$CephKeyring' -Confirm:`$false
}
try { $Script } catch { "ERROR `$(`$_.FullyQualifiedErrorId): `$(`$_.Exception.Message)" }
"@
    # pwsh may run as a .NET global tool, whose process is dotnet: start the pwsh command, not this process's file.
    $pwsh = (Get-Command -Name pwsh -CommandType Application -ErrorAction Ignore | Select-Object -First 1).Source
    if (-not $pwsh) {
        $pwsh = Join-Path $HOME '.dotnet/tools/pwsh'
    }
    & $pwsh -NoProfile -NonInteractive -Command $prelude 2>&1 | ForEach-Object { "$_" }
}

# The test's own hand on the cluster: rbd as client.admin, independent of the module.
function Invoke-AdminRbd {
    $output = & rbd --conf $CephConfig --id admin --keyring (Join-Path $LabDirectory 'client.admin.keyring') @args 2>&1
    if ($LASTEXITCODE -ne 0) {
        throw "rbd $args failed ($LASTEXITCODE): $output"
    }
    $output
}
