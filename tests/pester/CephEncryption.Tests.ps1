# Encryption at rest of Ceph volumes through the cmdlets, against a real cluster from tests/ceph/lab.sh brought up in
# BeforeAll and always taken down in AfterAll: the image holds a LUKS1 container that qemu's luks driver opens on top
# of its rbd driver; the same cmdlets and key rules as file volumes.
#
# Needs root, FUSE, qemu's rbd driver and the Ceph packages; skipped otherwise, and failing instead when
# SPARSESTORAGE_INTEGRATION=require.

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'ceph-lab.ps1')
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'ceph-lab.ps1') -SuiteName 'ccrypt' -PoolName 'vault'
    $VolumePath = "rbd:rbd/$Namespace/vault01"
    $MountPoint = Join-Path $TestEnv.MountDirectory 'vault01'
    $Canary = 'CANARY-' + [guid]::NewGuid().ToString('N')

    function New-TextKey([string] $Name) {
        $path = Join-Path $TestEnv.Root $Name
        Set-Content -LiteralPath $path -Value ([Convert]::ToBase64String([System.Security.Cryptography.RandomNumberGenerator]::GetBytes(24))) -NoNewline
        & chmod 600 $path
        $path
    }

    # The raw image as client.admin reads it (rbd export), as text.
    function Get-RawImageText {
        $file = Join-Path $TestEnv.Root 'raw-export.img'
        $null = Invoke-AdminRbd export --no-progress --pool rbd --namespace $Namespace --image vault01 $file
        try { [System.Text.Encoding]::ASCII.GetString([System.IO.File]::ReadAllBytes($file)) } finally { Remove-Item -LiteralPath $file }
    }

    if ($CephLabPossible) {
        Start-CephLab $Namespace
        $null = Register-CephTestPool $PoolName
        $Key = New-TextKey 'vault01.key'
        $SecondKey = New-TextKey 'vault01-second.key'
        $WrongKey = New-TextKey 'wrong.key'
    }
}

AfterAll {
    Remove-CephSuite
}

Describe 'Encrypting a Ceph volume through the cmdlets' -Skip:$SkipCeph {
    It 'creates, protects and mounts a volume in one pipeline, with the key file' {
        $mounted = New-SparseVolume -Name vault01 -Pool $PoolName -Size 128MB -FileSystem Ext4 -Confirm:$false |
            Protect-Volume -KeyFile $Key -IterationTime 100 -PassThru -Confirm:$false |
            Mount-SparseVolume -MountPoint $MountPoint -KeyFile $Key

        $mounted.IsMounted | Should -BeTrue
        $mounted.Encryption | Should -BeLike 'LUKS1*'
        $mounted.FileSystem | Should -Be 'Ext4'
        Set-Content -LiteralPath (Join-Path $MountPoint 'note.txt') -Value (($Canary + "`n") * 1000) -NoNewline
        $volume = Dismount-SparseVolume -Path $VolumePath -Confirm:$false -PassThru
        $volume.IsMounted | Should -BeFalse
        $volume.IsUnlocked | Should -BeFalse
    }

    It 'keeps only ciphertext on the cluster' {
        $raw = Get-RawImageText
        $raw.Substring(0, 4) | Should -Be 'LUKS'
        $raw.Contains($Canary) | Should -BeFalse
    }

    It 'refuses a wrong key, unlocks with the right one under the one-writer lock, and locks again' {
        { Unlock-Volume -Path $VolumePath -KeyFile $WrongKey -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'WrongKey,SparseStorage.PowerShell.Commands.UnlockVolumeCommand'
        $unlocked = Unlock-Volume -Path $VolumePath -KeyFile $Key -PassThru -Confirm:$false
        $lockers = Get-MountLock vault01
        $daemons = Get-ChildItem /proc -Directory | Where-Object Name -Match '^\d+$' |
            ForEach-Object { try { [System.IO.File]::ReadAllText("$($_.FullName)/cmdline").Replace([char]0, ' ') } catch { } } |
            Where-Object { $_ -like '*qemu-storage-daemon *image=vault01,*' }
        $locked = Lock-Volume -Path $VolumePath -PassThru -Confirm:$false

        $unlocked.IsUnlocked | Should -BeTrue
        $unlocked.FileSystem | Should -Be 'Ext4'
        @($lockers).Count | Should -Be 1
        @($daemons).Count | Should -Be 1
        $daemons | Should -BeLike '*driver=luks*'
        $daemons | Should -Not -BeLike "*$(Get-Content -Raw $Key)*"
        $locked.IsUnlocked | Should -BeFalse
    }

    It 'adds a key, removes the first, and mounts with the new key with the data intact' {
        $expected = ($Canary + "`n") * 1000
        $added = Add-VolumeKey -Path $VolumePath -KeyFile $Key -NewKeyFile $SecondKey -IterationTime 100 -PassThru -Confirm:$false
        $removed = Remove-VolumeKey -Path $VolumePath -KeyFile $Key -PassThru -Confirm:$false
        { Unlock-Volume -Path $VolumePath -KeyFile $Key -Confirm:$false -ErrorAction Stop } | Should -Throw -ErrorId 'WrongKey*'
        $mounted = Mount-SparseVolume -Path $VolumePath -MountPoint $MountPoint -KeyFile $SecondKey -Confirm:$false
        $text = Get-Content -LiteralPath (Join-Path $MountPoint 'note.txt') -Raw
        $null = Dismount-SparseVolume -Path $VolumePath -Confirm:$false

        $added.KeySlotCount | Should -Be 2
        $removed.KeySlotCount | Should -Be 1
        $mounted.IsMounted | Should -BeTrue
        $text | Should -BeExactly $expected
    }

    It 'shows the command lines without any key under -WhatIf, and unprotects the volume back to plaintext' {
        $whatIf = Unprotect-Volume -Path $VolumePath -KeyFile $SecondKey -WhatIf -Verbose 4>&1 | ForEach-Object { "$_" }
        $plain = Unprotect-Volume -Path $VolumePath -KeyFile $SecondKey -PassThru -Confirm:$false

        ($whatIf -join "`n") | Should -Match 'driver=luks,node-name=disk0,file=rbd0'
        ($whatIf -join "`n") | Should -Not -Match ([regex]::Escape((Get-Content -Raw $SecondKey)))
        $plain.Encryption | Should -Be 'None'
        (Get-RawImageText).Contains($Canary) | Should -BeTrue
        @(Get-ChildItem /dev/shm -Filter 'sparsestorage-secret-*' -ErrorAction Ignore | Where-Object Name -Like "sparsestorage-secret-$PID-*").Count | Should -Be 0
    }
}
