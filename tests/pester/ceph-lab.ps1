# Shared by the Ceph suites (Ceph*.Tests.ps1): each brings up its own cluster from tests/ceph/lab.sh in BeforeAll and
# always takes it down in AfterAll. Dot-source it after prerequisites.ps1 (BeforeDiscovery: for $SkipCeph) and after
# common.ps1 (BeforeAll: for the lab functions). The functions read $LabDirectory and $CephConfig from the suite.

$CephLabTools = 'ceph', 'rbd', 'ceph-mon', 'ceph-mgr', 'ceph-osd', 'ceph-authtool', 'monmaptool', 'qemu-storage-daemon', 'qemu-io', 'jq', 'uuidgen'
# A lab needs root, FUSE, qemu's rbd driver and the Ceph packages; without them the suite is skipped, unless
# SPARSESTORAGE_INTEGRATION=require makes that a failure.
$CephLabPossible = $RequireIntegration -or ($IsRoot -and (Test-Tool $CephLabTools) -and (Test-Path -LiteralPath '/dev/fuse'))
$SkipCeph = -not $CephLabPossible

# A directory for a new lab of this suite under /var/tmp (lab.sh derives its namespace and link names from it).
function New-CephLabDirectory([string] $Suite) {
    '/var/tmp/sstest-{0}-pester-{1}' -f $Suite, [guid]::NewGuid().ToString('N').Substring(0, 8)
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

# The test's own hand on the cluster: rbd as client.admin, independent of the module.
function Invoke-AdminRbd {
    $output = & rbd --conf $CephConfig --id admin --keyring (Join-Path $LabDirectory 'client.admin.keyring') @args 2>&1
    if ($LASTEXITCODE -ne 0) {
        throw "rbd $args failed ($LASTEXITCODE): $output"
    }
    $output
}
