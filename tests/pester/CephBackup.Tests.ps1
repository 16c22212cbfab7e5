# Backups of Ceph volumes through the cmdlets: sets made from RBD snapshots and rbd export-diff, listed, restored into
# the Ceph pool and into a file pool byte for byte, and removed. A real cluster from tests/ceph/lab.sh, brought up in
# BeforeAll and always taken down in AfterAll; the pool is registered on an RBD namespace of the lab's pool 'rbd' as
# the limited client 'sparse'. The test writes data with qemu-io and reads images with rbd export as client.admin.
#
# Needs root, FUSE, qemu's rbd driver and the Ceph packages; skipped otherwise, and failing instead when
# SPARSESTORAGE_INTEGRATION=require. Run it alone, not beside another Ceph suite or the xunit Ceph tests.

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'ceph-lab.ps1')
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'ceph-lab.ps1') -SuiteName 'cbackup' -PoolName 'cbk'
    $VolumePath = "rbd:rbd/$Namespace/disk"
    $Store = Join-Path $TestEnv.Root 'store'
    $Files = Join-Path $TestEnv.Root 'files'
    $KeyFile = Join-Path $TestEnv.Root 'integrity.key'

    function Write-Pattern([byte] $Value, [string] $Offset, [string] $Length) {
        $output = & qemu-io -f raw "rbd:rbd/$Namespace/disk:conf=$($CephConfig):id=admin:keyring=$AdminKeyring" -c ('write -P 0x{0:x2} {1} {2}' -f $Value, $Offset, $Length) 2>&1
        if ($LASTEXITCODE -ne 0) {
            throw "qemu-io failed ($LASTEXITCODE): $output"
        }
    }

    # SHA-256 of the whole image as rbd export writes it.
    function Get-ImageHash([string] $Image) {
        $file = Join-Path $TestEnv.Root ('export-{0}.raw' -f [guid]::NewGuid().ToString('N'))
        $null = Invoke-AdminRbd export --no-progress --pool rbd --namespace $Namespace --image $Image $file
        try { (Get-FileHash -LiteralPath $file -Algorithm SHA256).Hash } finally { Remove-Item -LiteralPath $file -Force }
    }

    if ($CephLabPossible) {
        Start-CephLab $Namespace
        $null = Register-CephTestPool $PoolName
        $null = New-Item -ItemType Directory -Path $Store, $Files
        $null = Register-StoragePool -Name files -Path $Files -Confirm:$false
        [IO.File]::WriteAllBytes($KeyFile, [Security.Cryptography.RandomNumberGenerator]::GetBytes(32))
        & chmod 600 $KeyFile
        $null = New-SparseVolume -Name disk -Pool $PoolName -Size 128MB -Confirm:$false
        Write-Pattern 0x11 0 32M
    }
}

AfterAll {
    Remove-CephSuite
}

Describe 'Backups of a Ceph volume through the cmdlets' -Skip:$SkipCeph {
    It 'Backup-SparseVolume -WhatIf shows the snapshot it takes and the diff it writes in-process, and writes nothing' {
        $output = @(Backup-SparseVolume -Path $VolumePath -Destination $Store -WhatIf -Verbose 4>&1)
        $messages = @($output.Message) -join "`n"
        $messages | Should -Match 'Plan: Take RBD snapshot <sparsestorage_backup_\w+_TIME> of image disk'
        $messages | Should -Match 'Plan: Write the RBD diff of image disk at snapshot <sparsestorage_backup_\w+_TIME> into .+/diff\.rbd through librbd, as rbd export-diff --whole-object writes it'
        Get-ChildItem -LiteralPath $Store | Should -BeNullOrEmpty
        Invoke-AdminRbd snap ls --pool rbd --namespace $Namespace --image disk | Should -BeNullOrEmpty
    }

    It 'makes a full set and an incremental that holds only what changed, both signed, and Get-VolumeBackup lists the chain' {
        $full = Get-SparseVolume -Name disk -Pool $PoolName | Backup-SparseVolume -Destination $Store -IntegrityKeyFile $KeyFile -Confirm:$false
        Write-Pattern 0x22 64M 2M
        $script:HashAtIncremental = Get-ImageHash disk
        $incremental = Backup-SparseVolume -Path $VolumePath -Destination $Store -IntegrityKeyFile $KeyFile -Confirm:$false

        $full.Kind | Should -Be 'Full'
        $incremental.Kind | Should -Be 'Incremental'
        $incremental.Parent | Should -Be $full.Name
        $incremental.ChangeDetection | Should -Be 'RbdDiff'
        $incremental.ReadBytes | Should -BeGreaterOrEqual 2MB
        $incremental.ReadBytes | Should -BeLessOrEqual 4MB -Because 'only the one 4 MiB object written since the full set is exported'
        $incremental.StoredBytes | Should -BeLessThan ($full.StoredBytes / 4)
        $incremental.Signed | Should -BeTrue
        $listed = @(Get-VolumeBackup -Destination $Store -Volume disk)
        $listed.Name | Should -Be @($full.Name, $incremental.Name)
        $listed[1].SourcePath | Should -Be $VolumePath
        @((Invoke-AdminRbd snap ls --format json --pool rbd --namespace $Namespace --image disk | ConvertFrom-Json).name) |
            Should -HaveCount 2 -Because 'the image keeps the snapshot the next incremental starts from and the one it started from'
    }

    It 'restores the piped incremental into a file pool, byte for byte and sparse' {
        Write-Pattern 0x33 0 1M
        $restored = Get-VolumeBackup -Destination $Store -Volume disk | Select-Object -Last 1 |
            Restore-SparseVolume -Destination (Join-Path $Files 'disk.img') -IntegrityKeyFile $KeyFile -Confirm:$false
        $restored.Path | Should -Be (Join-Path $Files 'disk.img')
        $restored.Pool | Should -Be 'files'
        (Get-FileHash -LiteralPath $restored.Path -Algorithm SHA256).Hash | Should -Be $HashAtIncremental
        $restored.AllocatedBytes | Should -BeLessThan 48MB -Because '34 MiB of data in a 128 MiB image'
    }

    It 'restores into a new image of the Ceph pool with rbd import-diff, byte for byte' {
        $set = Get-VolumeBackup -Destination $Store -Volume disk | Select-Object -Last 1
        $output = @(Restore-SparseVolume -Backup $set.BackupPath -Destination "rbd:rbd/$Namespace/copy" -IntegrityKeyFile $KeyFile -Force -Verbose 4>&1)
        $steps = @($output | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -like 'Step: *' }).Message
        ($steps -join "`n") | Should -Match 'import-diff --no-progress \S+diff\.rbd --image sparsestorage-restoring-copy'
        Get-ImageHash copy | Should -Be $HashAtIncremental
        @(Get-SparseVolume -Pool $PoolName).Name | Should -Be @('copy', 'disk')
    }

    It 'refuses a set whose diff was changed, and restores nothing' {
        $set = Get-VolumeBackup -Destination $Store -Volume disk | Select-Object -Last 1
        $diff = Join-Path $set.BackupPath 'diff.rbd'
        $bytes = [IO.File]::ReadAllBytes($diff)
        $bytes[$bytes.Length - 100] = $bytes[$bytes.Length - 100] -bxor 0xff
        [IO.File]::WriteAllBytes($diff, $bytes)
        { Restore-SparseVolume -Backup $set.BackupPath -Destination (Join-Path $Files 'tampered.img') -Force -ErrorAction Stop } |
            Should -Throw -ErrorId 'BackupDamaged*' -ExpectedMessage '*does not match its SHA-256*'
        Test-Path -LiteralPath (Join-Path $Files 'tampered.img') | Should -BeFalse
    }

    It 'Remove-VolumeBackup keeps a chain whole: the full set goes only with -IncludeDependants' {
        $full = Get-VolumeBackup -Destination $Store -Volume disk | Select-Object -First 1
        { $full | Remove-VolumeBackup -Force -ErrorAction Stop } | Should -Throw -ErrorId 'BackupHasDependants*'
        $snapshots = @((Invoke-AdminRbd snap ls --format json --pool rbd --namespace $Namespace --image disk | ConvertFrom-Json).name)
        $snapshots | Should -HaveCount 2 -Because 'the image keeps the newest set''s snapshot and the one it started from'
        $planned = @(@($full | Remove-VolumeBackup -IncludeDependants -WhatIf -Verbose 4>&1).Message | Where-Object { $_ -like 'Plan: Remove RBD snapshot *' })
        $planned | Should -HaveCount $snapshots.Count -Because 'each backup snapshot that no set names any more goes with the sets'
        $removed = @($full | Remove-VolumeBackup -IncludeDependants -Force -PassThru)
        $removed | Should -HaveCount 2
        Get-VolumeBackup -Destination $Store | Should -BeNullOrEmpty
        @((Invoke-AdminRbd snap ls --format json --pool rbd --namespace $Namespace --image disk | ConvertFrom-Json).name) |
            Should -BeNullOrEmpty -Because 'no backup snapshot is left on the image once no set names it'
    }
}
