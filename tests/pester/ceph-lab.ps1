# Shared by the Ceph suites (Ceph*.Tests.ps1): each brings up its own cluster from tests/ceph/lab.sh in BeforeAll and
# always takes it down in AfterAll with Remove-CephSuite. Dot-source it in BeforeDiscovery (it loads prerequisites.ps1
# and sets $SkipCeph), and in BeforeAll with the suite's name and pool name, which loads common.ps1 too and gives the
# suite its test environment and lab variables:
#
#     BeforeDiscovery {
#         . (Join-Path $PSScriptRoot 'ceph-lab.ps1')
#     }
#     BeforeAll {
#         . (Join-Path $PSScriptRoot 'ceph-lab.ps1') -SuiteName 'suite' -PoolName 'pool'
#         if ($CephLabPossible) {
#             Start-CephLab $Namespace
#             $null = Register-CephTestPool $PoolName
#         }
#     }
#     AfterAll {
#         Remove-CephSuite
#     }
#
# The functions read the suite's variables set below, and Invoke-SecondHost and Remove-CephSuite also $SecondHost when
# the suite has a second host.
param(
    # The suite's name, for the names of its test environment and lab; none in BeforeDiscovery.
    [string] $SuiteName,
    # The name the suite registers its Ceph pool under (Register-CephTestPool $PoolName).
    [string] $PoolName
)

. (Join-Path $PSScriptRoot 'prerequisites.ps1')

$CephLabTools = 'ceph', 'rbd', 'ceph-mon', 'ceph-mgr', 'ceph-osd', 'ceph-authtool', 'monmaptool', 'qemu-storage-daemon', 'qemu-io', 'jq', 'uuidgen'
# A lab needs root, FUSE, qemu's rbd driver and the Ceph packages; without them the suite is skipped, unless
# SPARSESTORAGE_INTEGRATION=require makes that a failure.
$CephLabPossible = $RequireIntegration -or ($IsRoot -and (Test-Tool $CephLabTools) -and (Test-Path -LiteralPath '/dev/fuse'))
$SkipCeph = -not $CephLabPossible

# A directory for a new lab of this suite under /var/tmp (lab.sh derives its namespace and link names from it).
function New-CephLabDirectory([string] $Suite) {
    '/var/tmp/sstest-{0}-pester-{1}' -f $Suite, [guid]::NewGuid().ToString('N').Substring(0, 8)
}

# Registers the lab's RBD namespace $Namespace as the Ceph pool NAME for the limited client 'sparse' with its keyring
# file, as every suite's pool is; returns the pool.
function Register-CephTestPool([string] $Name) {
    Register-StoragePool -Name $Name -CephPool rbd -CephNamespace $Namespace -CephConfig $CephConfig -CephUser sparse -CephKeyring $CephKeyring -Confirm:$false -ErrorAction Stop
}

# Takes a Ceph suite down, for its AfterAll after the suite's own clean-up steps (which may still need the lab). Every
# step runs even when one before it failed (a failure is a warning), so that a BeforeAll that stopped half-way (the lab
# up but no pool, or no lab at all) leaves nothing behind either: the AoE exports of the suite's runtime directory stop;
# every volume of its pools still attached on this host, and on $SecondHost when the suite has one, is dismounted and
# locked; the Ceph pools are unregistered (their images go with the cluster); Remove-TestEnvironment takes the file
# pools and the directory; the lab stops.
function Remove-CephSuite {
    # Without its environment the module would act on the machine's own pools: touch nothing but the lab then.
    if ($null -ne $TestEnv) {
        $env:SPARSESTORAGE_CONFIG = $TestEnv.ConfigPath
        $env:SPARSESTORAGE_RUNTIME_DIR = $TestEnv.RuntimeDirectory
        Invoke-CleanupStep 'AoE exports' { Stop-EveryAtaoeExport }
        Invoke-CleanupStep 'attached volumes' { Dismount-AttachedVolume }
        if ($SecondHost -and (Test-Path -LiteralPath (Join-Path $SecondHost 'pools.json'))) {
            Invoke-CleanupStep 'attached volumes on the second host' {
                $definition = (Get-Command -Name Dismount-AttachedVolume).Definition
                Invoke-SecondHost "function Dismount-AttachedVolume {$definition}`nDismount-AttachedVolume" | ForEach-Object { Write-Warning "second host: $_" }
            }
        }
        Invoke-CleanupStep 'Ceph pools' {
            foreach ($pool in @(Get-StoragePool -ErrorAction Stop | Where-Object Kind -EQ 'CephRbd')) {
                Unregister-StoragePool -Name $pool.Name -Confirm:$false -ErrorAction Stop
            }
        }
        Invoke-CleanupStep 'test environment' { Remove-TestEnvironment -Environment $TestEnv }
    }
    if ($CephLabPossible -and $LabDirectory) {
        Invoke-CleanupStep 'lab' { Stop-CephLab }
    }
}

# Runs one clean-up step; its failure becomes a warning, so that the steps after it still run.
function Invoke-CleanupStep([string] $What, [scriptblock] $Step) {
    try {
        & $Step
    }
    catch {
        Write-Warning "Test cleanup: ${What}: $_"
    }
}

# Stops every AoE export of this host's runtime directory, one at a time.
function Stop-EveryAtaoeExport {
    foreach ($export in @(Get-AtaoeExport -ErrorAction Stop)) {
        Invoke-CleanupStep "AoE export $($export.Target)" { $export | Stop-AtaoeExport -Confirm:$false -ErrorAction Stop }
    }
}

# Dismounts every volume of this host's pools that the module still has attached here, and locks the ones still
# unlocked, one at a time. Self-contained (module cmdlets only): Remove-CephSuite also runs it on the second host.
function Dismount-AttachedVolume {
    foreach ($pool in @(Get-StoragePool -ErrorAction Stop)) {
        try {
            $volumes = @(Get-SparseVolume -Pool $pool.Name -ErrorAction Stop | Where-Object { $_.IsAttached -or $_.IsMounted -or $_.IsUnlocked })
        }
        catch {
            Write-Warning "Test cleanup: volumes of pool $($pool.Name): $_"
            continue
        }
        foreach ($volume in $volumes) {
            try {
                if ($volume.IsMounted -or -not $volume.IsUnlocked) {
                    $volume = Dismount-SparseVolume -Path $volume.Path -Confirm:$false -PassThru -ErrorAction Stop
                }
                if ($volume.IsUnlocked) {
                    Lock-Volume -Path $volume.Path -Dismount -Confirm:$false -ErrorAction Stop
                }
            }
            catch {
                Write-Warning "Test cleanup: volume $($volume.Path): $_"
            }
        }
    }
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
    $output = & ceph --conf $CephConfig --id admin --keyring $AdminKeyring --connect-timeout 30 @args --format json 2>&1
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

# The lockers of IMAGE's mount lock as the cluster reports them to client.admin (none when it is not held).
function Get-MountLock([string] $Image) {
    & rados --conf $CephConfig --id admin --keyring $AdminKeyring --pool rbd --namespace $Namespace `
        lock info "sparsestorage_mount.$Image" mount --format json 2>$null | ConvertFrom-Json | Select-Object -ExpandProperty lockers
}

# The test's own hand on the cluster: rbd as client.admin, independent of the module.
function Invoke-AdminRbd {
    $output = & rbd --conf $CephConfig --id admin --keyring $AdminKeyring @args 2>&1
    if ($LASTEXITCODE -ne 0) {
        throw "rbd $args failed ($LASTEXITCODE): $output"
    }
    $output
}

if ($SuiteName) {
    . (Join-Path $PSScriptRoot 'common.ps1')
    # The suite's test environment (New-TestEnvironment) and lab: its directory, ceph.conf, the keyrings of the limited
    # client 'sparse' (the module's) and of client.admin (the test's own hand), and the RBD namespace Start-CephLab
    # creates.
    $TestEnv = New-TestEnvironment -Name $SuiteName
    $LabDirectory = New-CephLabDirectory $SuiteName
    $CephConfig = Join-Path $LabDirectory 'ceph.conf'
    $CephKeyring = Join-Path $LabDirectory 'client.sparse.keyring'
    $AdminKeyring = Join-Path $LabDirectory 'client.admin.keyring'
    $Namespace = 'pester'
}
