# Shared by tests/pester/*.Tests.ps1. Dot-source it from the test file's top-level BeforeAll:
#
#     BeforeAll {
#         . (Join-Path $PSScriptRoot 'common.ps1')
#         $TestEnv = New-TestEnvironment -Name 'pools'
#     }
#     AfterAll {
#         Remove-TestEnvironment -Environment $TestEnv
#     }
#
# It imports the BUILT module from out/ (never the sources), and gives each test file its own pool configuration
# (SPARSESTORAGE_CONFIG) and run-time directory (SPARSESTORAGE_RUNTIME_DIR) under /tmp, so a suite never reads or
# changes the pools, locks or FUSE exports of the machine it runs on. The module reads both variables on every
# cmdlet call, so setting them in this process is enough.

$SparseStorageRepositoryRoot = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../..'))
$SparseStorageVersion = (Import-PowerShellDataFile -LiteralPath (Join-Path $SparseStorageRepositoryRoot 'SparseStorage.psd1')).ModuleVersion
$SparseStorageManifestPath = [System.IO.Path]::GetFullPath(
    (Join-Path $PSScriptRoot "../../out/SparseStorage/$SparseStorageVersion/SparseStorage.psd1"))
# The DSC resources' module, shipped beside it at the same version (it requires SparseStorage; Dsc.Tests.ps1 uses it).
$SparseStorageDscManifestPath = [System.IO.Path]::GetFullPath(
    (Join-Path $PSScriptRoot "../../out/SparseStorageDsc/$SparseStorageVersion/SparseStorageDsc.psd1"))
# The pwsh executable for child sessions. Not (Get-Process -Id $PID).Path: the .NET global tool's pwsh is a shim that
# runs 'dotnet <store>/pwsh.dll', so this process is dotnet. $PSHOME holds the real executable in every install.
$PwshPath = Join-Path $PSHOME 'pwsh'

function New-TestEnvironment {
    <#
    .SYNOPSIS
    Creates /tmp/sparsestorage-pester-<name>-<random>/ with pools.json, run/, pools/ and mnt/, and points the module at it.
    .OUTPUTS
    An object with Root, ConfigPath, RuntimeDirectory, PoolsDirectory, MountDirectory, the values to restore, and
    LoopsAtStart (Get-LoopDeviceSnapshot): the loop attachments when the suite began, so that its checks can tell the
    loops attached since from those of other builds on the machine.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [ValidatePattern('^[a-z0-9-]+$')]
        [string] $Name
    )

    # The module reports resolved paths (symbolic links followed); resolve /tmp so that tests can compare paths.
    $tmpTarget = [System.IO.Directory]::ResolveLinkTarget('/tmp', $true)
    $base = if ($null -ne $tmpTarget) { $tmpTarget.FullName } else { '/tmp' }
    $root = Join-Path $base ('sparsestorage-pester-{0}-{1}' -f $Name, [guid]::NewGuid().ToString('N').Substring(0, 8))

    $environment = [pscustomobject]@{
        Root                  = $root
        ConfigPath            = Join-Path $root 'pools.json'
        RuntimeDirectory      = Join-Path $root 'run'
        PoolsDirectory        = Join-Path $root 'pools'
        MountDirectory        = Join-Path $root 'mnt'
        SavedConfig           = $env:SPARSESTORAGE_CONFIG
        SavedRuntimeDirectory = $env:SPARSESTORAGE_RUNTIME_DIR
        LoopsAtStart          = Get-LoopDeviceSnapshot
    }
    $null = New-Item -ItemType Directory -Path $root, $environment.PoolsDirectory, $environment.MountDirectory -ErrorAction Stop
    $env:SPARSESTORAGE_CONFIG = $environment.ConfigPath
    $env:SPARSESTORAGE_RUNTIME_DIR = $environment.RuntimeDirectory
    $environment
}

function New-TestDirectory {
    <# .SYNOPSIS Creates <root>/pools/<name> (not registered) and returns its path. #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [psobject] $Environment,
        [Parameter(Mandatory)] [string] $Name
    )

    (New-Item -ItemType Directory -Path (Join-Path $Environment.PoolsDirectory $Name) -ErrorAction Stop).FullName
}

function New-TestPool {
    <# .SYNOPSIS Creates <root>/pools/<name>, registers it as pool <name> and returns the StoragePool. #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [psobject] $Environment,
        [Parameter(Mandatory)] [string] $Name
    )

    $path = New-TestDirectory -Environment $Environment -Name $Name
    Register-StoragePool -Name $Name -Path $path -Confirm:$false -ErrorAction Stop
}

function Get-MountPointUnder {
    <# .SYNOPSIS Mount points at or below a directory, from /proc/self/mountinfo (field 5, \ooo-escaped). #>
    param([Parameter(Mandatory)] [string] $Directory)

    foreach ($line in [System.IO.File]::ReadLines('/proc/self/mountinfo')) {
        $mountPoint = $line.Split(' ')[4] -replace '\\([0-7]{3})', { [string][char][Convert]::ToInt32($_.Groups[1].Value, 8) }
        if ($mountPoint -eq $Directory -or $mountPoint.StartsWith("$Directory/", [System.StringComparison]::Ordinal)) {
            $mountPoint
        }
    }
}

# The attached loop devices from sysfs as objects with Device, DiskSequence (the kernel's diskseq, new with every
# attach) and BackingFile. Other processes attach and detach loop devices meanwhile: a device detached between listing
# and reading is skipped.
function Get-AttachedLoopDevice {
    if (-not [System.IO.Directory]::Exists('/sys/block')) {
        return
    }
    foreach ($device in [System.IO.Directory]::GetDirectories('/sys/block', 'loop*')) {
        try {
            $backing = [System.IO.File]::ReadAllText("$device/loop/backing_file").Trim()
            $sequence = [System.IO.File]::ReadAllText("$device/diskseq").Trim()
        }
        catch {
            continue
        }
        [pscustomobject]@{ Device = "/dev/$([System.IO.Path]::GetFileName($device))"; DiskSequence = $sequence; BackingFile = $backing }
    }
}

# The loop attachments now, as 'DEVICE@DISKSEQ' keys, for Get-LoopDeviceUnder -Environment to compare with.
function Get-LoopDeviceSnapshot {
    @(Get-AttachedLoopDevice | ForEach-Object { "$($_.Device)@$($_.DiskSequence)" })
}

# Loop devices whose backing file lies below a directory, as '/dev/loopN: <backing file>'. With -Environment, also
# those attached since New-TestEnvironment whose backing file reads '/': the kernel shows that once the FUSE export
# under a loop is gone (its qemu-storage-daemon exited and its mount was lifted), and then no path names the loop.
function Get-LoopDeviceUnder([string] $Directory, [psobject] $Environment) {
    foreach ($loop in @(Get-AttachedLoopDevice)) {
        $new = $null -ne $Environment -and $Environment.LoopsAtStart -notcontains "$($loop.Device)@$($loop.DiskSequence)"
        if ($loop.BackingFile.StartsWith("$Directory/", [System.StringComparison]::Ordinal) -or ($new -and $loop.BackingFile -eq '/')) {
            "$($loop.Device): $($loop.BackingFile)"
        }
    }
}

function Remove-TestEnvironment {
    <#
    .SYNOPSIS
    Dismounts and removes every volume of the test's pools, unregisters the pools, restores SPARSESTORAGE_CONFIG and
    SPARSESTORAGE_RUNTIME_DIR and deletes the directory. Meant for AfterAll: it keeps going after a failure and
    reports it as a warning.
    #>
    [CmdletBinding()]
    param(
        [AllowNull()]
        [psobject] $Environment
    )

    if ($null -eq $Environment) {
        return # the BeforeAll that should have made it failed first; that failure is the one to read
    }
    try {
        # Whatever a test did to the variables, clean up the test's own pools and nothing else.
        $env:SPARSESTORAGE_CONFIG = $Environment.ConfigPath
        $env:SPARSESTORAGE_RUNTIME_DIR = $Environment.RuntimeDirectory
        if ((Get-Command -Name Get-StoragePool -ErrorAction Ignore) -and (Test-Path -LiteralPath $Environment.ConfigPath)) {
            foreach ($pool in @(Get-StoragePool -ErrorAction SilentlyContinue)) {
                foreach ($volume in @(Get-SparseVolume -Pool $pool.Name -ErrorAction SilentlyContinue)) {
                    # -Path rather than the pipeline: cleanup must work even when pipeline binding is what broke.
                    try {
                        Dismount-SparseVolume -Path $volume.Path -Confirm:$false -ErrorAction Stop
                        Remove-SparseVolume -Path $volume.Path -Force -Confirm:$false -ErrorAction Stop
                    }
                    catch {
                        Write-Warning "Test cleanup: volume $($volume.Path): $_"
                    }
                }
                try {
                    Unregister-StoragePool -Name $pool.Name -Confirm:$false -ErrorAction Stop
                }
                catch {
                    Write-Warning "Test cleanup: pool $($pool.Name): $_"
                }
            }
        }
    }
    finally {
        # SetEnvironmentVariable with $null removes the variable, which is what "restore" means when it was unset.
        [System.Environment]::SetEnvironmentVariable('SPARSESTORAGE_CONFIG', $Environment.SavedConfig)
        [System.Environment]::SetEnvironmentVariable('SPARSESTORAGE_RUNTIME_DIR', $Environment.SavedRuntimeDirectory)

        $deadLoops = @(Get-LoopDeviceUnder -Directory $Environment.Root -Environment $Environment)
        if ($deadLoops.Count -gt 0) {
            Write-Warning "Test cleanup: loop devices of this suite are still attached: $($deadLoops -join ', ')"
        }
        # Never delete recursively through a mount (a volume or a FUSE export the cleanup could not take down).
        $stillMounted = @(Get-MountPointUnder -Directory $Environment.Root)
        if ($stillMounted.Count -gt 0) {
            Write-Warning "Test cleanup: left $($Environment.Root) in place; still mounted: $($stillMounted -join ', ')"
        }
        elseif (Test-Path -LiteralPath $Environment.Root) {
            Remove-Item -LiteralPath $Environment.Root -Recurse -Force
        }
    }
}

if (-not (Test-Path -LiteralPath $SparseStorageManifestPath -PathType Leaf)) {
    throw "The built module is missing: $SparseStorageManifestPath. Build it first (./build.ps1 -Task Build)."
}
Import-Module -Name $SparseStorageManifestPath -Force -ErrorAction Stop

# Writes Length bytes at Offset: random bytes from Seed, or zeros when Seed is 0; flushed to disk.
function Write-Pattern([string] $Path, [long] $Offset, [int] $Length, [int] $Seed) {
    $bytes = [byte[]]::new($Length)
    if ($Seed -ne 0) {
        [System.Random]::new($Seed).NextBytes($bytes)
    }
    $stream = [System.IO.File]::Open($Path, 'Open', 'ReadWrite', 'ReadWrite')
    try {
        $stream.Position = $Offset
        $stream.Write($bytes, 0, $bytes.Length)
        $stream.Flush($true)
    }
    finally {
        $stream.Dispose()
    }
}

# A file of random bytes in a mounted volume, flushed to the device so that the image really holds it.
function Write-RandomFile([string] $Path, [int] $Length, [int] $Seed) {
    $bytes = [byte[]]::new($Length)
    [System.Random]::new($Seed).NextBytes($bytes)
    $stream = [System.IO.File]::Open($Path, 'Create', 'Write', 'None')
    try {
        $stream.Write($bytes, 0, $bytes.Length)
        $stream.Flush($true)
    }
    finally {
        $stream.Dispose()
    }
}

# A key file as an operator makes one (text: qemu takes only UTF-8 keys), readable by its owner only.
function New-KeyFile([string] $Directory, [string] $Name) {
    $path = Join-Path $Directory $Name
    $text = [Convert]::ToBase64String([System.Security.Cryptography.RandomNumberGenerator]::GetBytes(48))
    [System.IO.File]::WriteAllText($path, "$text`n")
    [System.IO.File]::SetUnixFileMode($path, [System.IO.UnixFileMode] 'UserRead, UserWrite')
    $path
}

function Get-Sha256([string] $Path) {
    (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash
}

function Invoke-Ip([string[]] $Arguments) {
    $output = & ip @Arguments 2>&1
    if ($LASTEXITCODE -ne 0) {
        throw "ip $Arguments failed ($LASTEXITCODE): $output"
    }
}

<#
.SYNOPSIS
Makes a network namespace for an AoE supervisor and a veth pair: NodeInterface stays in this namespace (vblade serves
on it), SupervisorInterface goes into the new one. Nothing is made unless the session is root and ip exists.
.OUTPUTS
An object with Supervisor (the namespace), NodeInterface and SupervisorInterface; Remove-AoeLab deletes it all.
#>
function New-AoeLab([string] $Prefix) {
    $suffix = [guid]::NewGuid().ToString('N').Substring(0, 6)
    $lab = [pscustomobject]@{
        Supervisor          = "$Prefix-$suffix-sup"
        NodeInterface       = "$($Prefix.Substring(0, 3))n$suffix"
        SupervisorInterface = "$($Prefix.Substring(0, 3))s$suffix"
    }
    if ((& id -u) -eq '0' -and (Get-Command ip -ErrorAction Ignore)) {
        Invoke-Ip 'netns', 'add', $lab.Supervisor
        try {
            Invoke-Ip 'link', 'add', $lab.NodeInterface, 'type', 'veth', 'peer', 'name', $lab.SupervisorInterface, 'netns', $lab.Supervisor
            Invoke-Ip 'link', 'set', $lab.NodeInterface, 'up'
            Invoke-Ip '-n', $lab.Supervisor, 'link', 'set', $lab.SupervisorInterface, 'up'
        }
        catch {
            # The caller never gets the lab to remove: take the namespace down here (with it goes the veth pair).
            & ip netns delete $lab.Supervisor 2>&1 | Out-Null
            throw
        }
    }
    $lab
}

# Stops every export of this test environment and deletes the lab's namespace, which removes the veth pair.
function Remove-AoeLab([object] $Lab) {
    try {
        # One at a time: a failure to stop one export must not leave the others' vblade running.
        foreach ($export in @(Get-AtaoeExport -ErrorAction Ignore)) {
            try {
                $export | Stop-AtaoeExport -Confirm:$false -ErrorAction Stop
            }
            catch {
                Write-Warning "Test cleanup: AoE export $($export.Target) on $($export.Interface): $_"
            }
        }
    }
    finally {
        if ($null -ne $Lab -and (Test-Path -LiteralPath "/run/netns/$($Lab.Supervisor)")) {
            & ip netns delete $Lab.Supervisor
        }
    }
}
