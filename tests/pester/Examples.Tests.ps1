# The scripts in examples/ run as a scheduler or CI runner runs them: 'pwsh -NoProfile -NonInteractive -File', in a
# child process that inherits this suite's pool configuration and run-time directory (common.ps1) and finds the
# built module through PSModulePath. Each test checks the exit code and what the script left behind. Mounting,
# encrypting and exporting need root (and the tools); those tests are skipped otherwise, failing instead when
# SPARSESTORAGE_INTEGRATION=require. The nightly job runs on volumes without a filesystem and needs no root.

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'prerequisites.ps1')
    $SkipMount = -not $RequireIntegration -and -not ($IsRoot -and (Test-Tool 'losetup', 'mount', 'umount', 'mkfs.ext4'))
    $SkipProvision = $SkipMount -or (-not $RequireIntegration -and -not ((Test-Tool 'cryptsetup') -and ($HasDeviceMapper -or $HasUserspace)))
    $SkipAoe = -not $RequireIntegration -and -not ($IsRoot -and (Test-Tool 'vblade', 'start-stop-daemon', 'ip'))
}

BeforeAll {
    # Saved before anything can fail, so that AfterAll restores it even when common.ps1 throws (module not built).
    $SavedModulePath = $env:PSModulePath
    . (Join-Path $PSScriptRoot 'common.ps1')
    $TestEnv = New-TestEnvironment -Name 'examples'
    $ExamplesDirectory = Join-Path $SparseStorageRepositoryRoot 'examples'
    # out/ holds SparseStorage/<version>/SparseStorage.psd1, which is the layout Import-Module -Name looks for.
    $env:PSModulePath = (Join-Path $SparseStorageRepositoryRoot 'out') + [System.IO.Path]::PathSeparator + $env:PSModulePath
    $Interface = 'ssex' + [guid]::NewGuid().ToString('N').Substring(0, 6)

    # Runs an example in a child pwsh; returns its exit code and everything it printed.
    function Invoke-Example([string] $Script, [string[]] $Arguments) {
        $output = & $PwshPath -NoProfile -NonInteractive -File (Join-Path $ExamplesDirectory $Script) @Arguments 2>&1
        [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = ($output | Out-String) }
    }
}

AfterAll {
    if ($null -ne $SavedModulePath) {
        $env:PSModulePath = $SavedModulePath
    }
    if (-not (Get-Command -Name Get-AtaoeExport -ErrorAction Ignore)) {
        return # BeforeAll failed before the module was imported; its error is the one to read
    }
    Get-AtaoeExport -ErrorAction Ignore | Stop-AtaoeExport -Confirm:$false -ErrorAction Continue
    if (Test-Path -LiteralPath "/sys/class/net/$Interface") {
        & ip link delete $Interface
    }
    foreach ($volume in @(Get-StoragePool -ErrorAction SilentlyContinue | Get-SparseVolume -ErrorAction SilentlyContinue | Where-Object Encryption -NE 'None')) {
        Lock-Volume -Path $volume.Path -Dismount -Force -Confirm:$false -ErrorAction Continue
    }
    Remove-TestEnvironment -Environment $TestEnv
}

Describe 'nightly-maintenance.ps1' {
    BeforeAll {
        $poolPath = (New-TestPool -Environment $TestEnv -Name 'ex-nightly').Path
        $backupRoot = (New-Item -ItemType Directory -Path (Join-Path $TestEnv.Root 'nightly-backup') -ErrorAction Stop).FullName
        foreach ($name in 'vol-a', 'vol-b') {
            $volume = New-SparseVolume -Name $name -Pool 'ex-nightly' -Size 32MB
            Write-Pattern -Path $volume.Path -Offset 1MB -Length 1MB -Seed 1
            # Zeros that Optimize-SparseVolume turns back into holes.
            Write-Pattern -Path $volume.Path -Offset 8MB -Length 4MB -Seed 0
        }
        $arguments = @('-Pool', 'ex-nightly', '-Destination', $backupRoot, '-KeepSnapshots', '1', '-KeepBackups', '5',
            '-FullBackupDay', 'Never', '-Confirm:$false')
    }

    It 'snapshots, backs up and optimizes every volume, and the second night keeps one snapshot and adds an incremental set' {
        $first = Invoke-Example 'nightly-maintenance.ps1' $arguments
        $first.ExitCode | Should -Be 0 -Because $first.Output
        foreach ($name in 'vol-a', 'vol-b') {
            $volume = Get-SparseVolume -Name $name -Pool 'ex-nightly'
            $volume.AllocatedBytes | Should -BeLessThan 4MB -Because 'the zeros were punched out'
            @(Get-VolumeSnapshot -VolumePath $volume.Path -Name 'nightly-*') | Should -HaveCount 1
            (@(Get-VolumeBackup -Destination $backupRoot -Volume $name).Kind -join ',') | Should -Be 'Full'
        }
        $firstSnapshot = (Get-VolumeSnapshot -Volume 'vol-a' -Pool 'ex-nightly').Name
        $null = New-VolumeSnapshot -Volume 'vol-a' -Pool 'ex-nightly' -Name 'by-hand'

        $second = Invoke-Example 'nightly-maintenance.ps1' $arguments
        $second.ExitCode | Should -Be 0 -Because $second.Output
        $snapshots = @(Get-VolumeSnapshot -Volume 'vol-a' -Pool 'ex-nightly')
        $snapshots.Name | Should -Contain 'by-hand' -Because 'only nightly-* snapshots are pruned'
        @($snapshots | Where-Object Name -Like 'nightly-*') | Should -HaveCount 1
        $snapshots.Name | Should -Not -Contain $firstSnapshot
        (@(Get-VolumeBackup -Destination $backupRoot -Volume 'vol-a').Kind -join ',') | Should -Be 'Full,Incremental'
    }

    It 'exits with 1 and names the pool when the pool does not exist' {
        $result = Invoke-Example 'nightly-maintenance.ps1' @('-Pool', 'no-such-pool', '-Destination', $backupRoot, '-Confirm:$false')

        $result.ExitCode | Should -Be 1 -Because $result.Output
        $result.Output | Should -BeLike '*no-such-pool*'
    }
}

Describe 'ci-scratch-volume.ps1' -Skip:$SkipMount {
    BeforeAll {
        $poolPath = (New-TestPool -Environment $TestEnv -Name 'ex-ci').Path
        $jobDirectory = (New-Item -ItemType Directory -Path (Join-Path $TestEnv.Root 'jobs') -ErrorAction Stop).FullName
    }

    It 'runs its smoke test on a throw-away volume and removes it' {
        $mountPoint = Join-Path $TestEnv.MountDirectory 'ci-ok'

        $result = Invoke-Example 'ci-scratch-volume.ps1' @('-Pool', 'ex-ci', '-Size', '64MB', '-Name', 'ci-ok', '-MountPoint', $mountPoint)

        $result.ExitCode | Should -Be 0 -Because $result.Output
        Get-ChildItem -LiteralPath $poolPath -Force | Should -BeNullOrEmpty
        Get-MountPointUnder -Directory $TestEnv.Root | Should -BeNullOrEmpty
        Get-LoopDeviceUnder -Directory $poolPath -Environment $TestEnv | Should -BeNullOrEmpty
        Test-Path -LiteralPath $mountPoint | Should -BeTrue -Because 'a mount point the caller chose is kept'
    }

    # Reason: what the output must show, so that a failure before the job ran (creating or mounting) does not pass.
    # Wildcards between the words: the child's error view may wrap a long message at a space.
    It 'removes the volume and its own mount point when the job <Case>, and exits with 1' -ForEach @(
        @{ Case = 'throws'; Body = 'param($dir) Set-Content -LiteralPath (Join-Path $dir ''out.txt'') -Value x; throw ''job-failed-on-purpose'''; Reason = '*job-failed-on-purpose*' }
        @{ Case = 'exits with 3'; Body = 'param($dir) exit 3'; Reason = '*ended*with*exit*code*3*' }
    ) {
        $job = Join-Path $jobDirectory "job-$($Case.Replace(' ', '-')).ps1"
        Set-Content -LiteralPath $job -Value $Body
        $before = @(Get-ChildItem -LiteralPath ([System.IO.Path]::GetTempPath()) -Filter 'sparsestorage-ci-fail*' -ErrorAction Ignore)

        $result = Invoke-Example 'ci-scratch-volume.ps1' @('-Pool', 'ex-ci', '-Size', '64MB', '-Name', 'ci-fail', '-ScriptPath', $job)

        $result.ExitCode | Should -Be 1 -Because $result.Output
        $result.Output | Should -BeLike $Reason
        Get-ChildItem -LiteralPath $poolPath -Force | Should -BeNullOrEmpty -Because 'the finally block removed the volume'
        Get-LoopDeviceUnder -Directory $poolPath -Environment $TestEnv | Should -BeNullOrEmpty
        Get-MountPointUnder -Directory ([System.IO.Path]::GetTempPath().TrimEnd('/') + '/sparsestorage-ci-fail') | Should -BeNullOrEmpty
        @(Get-ChildItem -LiteralPath ([System.IO.Path]::GetTempPath()) -Filter 'sparsestorage-ci-fail*' -ErrorAction Ignore).Count |
            Should -Be $before.Count -Because 'the mount point the job made for itself is deleted'
    }
}

Describe 'provision-tenants.ps1' -Skip:$SkipProvision {
    BeforeAll {
        $poolPath = (New-TestPool -Environment $TestEnv -Name 'ex-tenants').Path
        $keyDirectory = Join-Path $TestEnv.Root 'tenant-keys'
        $csv = Join-Path $TestEnv.Root 'tenants.csv'
        $report = Join-Path $TestEnv.Root 'report.csv'
        @(
            'Name,Pool,Size,Format,FileSystem,Label,Encrypted,MountPoint'
            "plain,ex-tenants,64MB,Raw,Ext4,plain,false,$(Join-Path $TestEnv.MountDirectory 'plain')"
            "secret,ex-tenants,64MB,Raw,Ext4,,true,$(Join-Path $TestEnv.MountDirectory 'secret')"
            'spare,ex-tenants,1TB,,,,,'
        ) | Set-Content -LiteralPath $csv
        $arguments = @('-CsvPath', $csv, '-KeyDirectory', $keyDirectory, '-NewKeys', '-IterationTime', '100', '-ReportPath', $report, '-Confirm:$false')
    }

    It 'creates, encrypts and mounts every tenant, reports them, and changes nothing when run again' {
        $result = Invoke-Example 'provision-tenants.ps1' $arguments

        $result.ExitCode | Should -Be 0 -Because $result.Output
        $plain = Get-SparseVolume -Name 'plain' -Pool 'ex-tenants'
        $plain.IsMounted | Should -BeTrue
        $plain.Label | Should -Be 'plain'
        $secret = Get-SparseVolume -Name 'secret' -Pool 'ex-tenants'
        $secret.Encryption | Should -Not -Be 'None'
        $secret.IsMounted | Should -BeTrue
        (Get-SparseVolume -Name 'spare' -Pool 'ex-tenants').SizeBytes | Should -Be 1TB
        $keyFile = Get-Item -LiteralPath (Join-Path $keyDirectory 'secret.key')
        $keyFile.UnixFileMode | Should -Be ([System.IO.UnixFileMode] 'UserRead, UserWrite')
        $result.Output | Should -Not -BeLike "*$((Get-Content -LiteralPath $keyFile.FullName -Raw).Trim())*"
        $rows = @(Import-Csv -LiteralPath $report)
        ($rows.Status -join ',') | Should -Be 'Created,Created,Created'
        ($rows | Where-Object Name -EQ 'spare').SizeBytes | Should -Be ([string] 1TB)

        $again = Invoke-Example 'provision-tenants.ps1' $arguments
        $again.ExitCode | Should -Be 0 -Because $again.Output
        ((Import-Csv -LiteralPath $report).Status -join ',') | Should -Be 'Exists,Exists,Exists'
        (Get-SparseVolume -Name 'secret' -Pool 'ex-tenants').KeySlotCount | Should -Be 1 -Because 'nothing was protected twice'
    }

    It 'exits with 1 for a row it cannot provision, after provisioning the others' {
        $bad = Join-Path $TestEnv.Root 'bad.csv'
        @('Name,Pool,Size', 'good,ex-tenants,16MB', 'orphan,no-such-pool,16MB') | Set-Content -LiteralPath $bad

        $result = Invoke-Example 'provision-tenants.ps1' @('-CsvPath', $bad, '-Confirm:$false')

        $result.ExitCode | Should -Be 1 -Because $result.Output
        $result.Output | Should -BeLike '*no-such-pool*'
        (Get-SparseVolume -Name 'good' -Pool 'ex-tenants').SizeBytes | Should -Be 16MB
    }
}

Describe 'aoe-node-bringup.ps1' -Skip:$SkipAoe {
    BeforeAll {
        $poolPath = New-TestDirectory -Environment $TestEnv -Name 'ex-node'
        $shelf = 71
        if ((& id -u) -eq '0' -and (Get-Command ip -ErrorAction Ignore)) {
            # Left down on purpose: the script brings it up. The peer is up, so the link has a carrier then.
            # Invoke-Ip (common.ps1) throws when ip fails, so a missing pair fails here and not as a script error.
            Invoke-Ip 'link', 'add', $Interface, 'type', 'veth', 'peer', 'name', "$Interface-p"
            Invoke-Ip 'link', 'set', "$Interface-p", 'up'
        }
        $arguments = @('-Pool', 'ex-node', '-PoolPath', $poolPath, '-Shelf', "$shelf", '-Interface', $Interface)
    }

    It 'registers the pool, brings the interface up, exports every volume, and leaves running exports alone' {
        foreach ($name in 'disk0', 'disk1') {
            # Plain sparse files: the pool is not registered yet, which is the script's first job.
            $image = [System.IO.File]::Create((Join-Path $poolPath "$name.img"))
            $image.SetLength(8MB)
            $image.Dispose()
        }

        $result = Invoke-Example 'aoe-node-bringup.ps1' $arguments

        $result.ExitCode | Should -Be 0 -Because $result.Output
        (Get-StoragePool -Name 'ex-node').Path | Should -Be $poolPath
        ([Convert]::ToInt32((Get-Content -LiteralPath "/sys/class/net/$Interface/flags" -Raw).Trim(), 16) -band 1) | Should -Be 1
        $exports = @(Get-AtaoeExport -Shelf $shelf -Interface $Interface | Sort-Object Slot)
        ($exports.Volume -join ',') | Should -Be 'disk0,disk1'
        ($exports.State -join ',') | Should -Be 'Running,Running'

        $again = Invoke-Example 'aoe-node-bringup.ps1' $arguments
        $again.ExitCode | Should -Be 0 -Because $again.Output
        (@(Get-AtaoeExport -Shelf $shelf | Sort-Object Slot).ProcessId -join ',') | Should -Be ($exports.ProcessId -join ',')
    }

    It 'restarts a dead export at its old slot' {
        $victim = Get-AtaoeExport -Shelf $shelf | Where-Object Volume -EQ 'disk1'
        Stop-Process -Id $victim.ProcessId -Force
        $deadline = [DateTime]::UtcNow.AddSeconds(10)
        while ((Get-AtaoeExport -Shelf $shelf | Where-Object Volume -EQ 'disk1').State -ne 'Dead' -and [DateTime]::UtcNow -lt $deadline) {
            Start-Sleep -Milliseconds 100
        }

        $result = Invoke-Example 'aoe-node-bringup.ps1' $arguments

        $result.ExitCode | Should -Be 0 -Because $result.Output
        $restarted = Get-AtaoeExport -Shelf $shelf | Where-Object Volume -EQ 'disk1'
        $restarted.State | Should -Be 'Running'
        $restarted.Slot | Should -Be $victim.Slot
        $restarted.ProcessId | Should -Not -Be $victim.ProcessId
    }

    It 'exits with 1 for an interface that does not exist, and exports nothing' {
        $result = Invoke-Example 'aoe-node-bringup.ps1' @('-Pool', 'ex-node', '-Shelf', '72', '-Interface', 'nosuchif0')

        $result.ExitCode | Should -Be 1 -Because $result.Output
        $result.Output | Should -BeLike '*nosuchif0*'
        Get-AtaoeExport -Shelf 72 | Should -BeNullOrEmpty
    }
}
