# Objects as remoting and JSON see them. Remoting returns deserialized property bags (type names prefixed with
# 'Deserialized.'); PSSerializer does the same serialization in one process. The deserialized objects must still
# pipe into the cmdlets that take them, which bind by property name. And every cmdlet's output must convert with
# ConvertTo-Json -Depth 3 without truncation and parse back with its sizes as numbers.
# Mounting and AoE exports need root (and vblade, ip); those tests are skipped otherwise, failing instead when
# SPARSESTORAGE_INTEGRATION=require.

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'prerequisites.ps1')
    $SkipMount = -not $RequireIntegration -and -not ($IsRoot -and (Test-Tool 'losetup', 'mount', 'umount', 'mkfs.ext4'))
    $SkipExport = -not $RequireIntegration -and -not ($IsRoot -and (Test-Tool 'vblade', 'start-stop-daemon', 'ip'))
    $SkipArchive = -not $RequireIntegration -and -not (Test-Tool 'tar', 'zstd')
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'common.ps1')
    $TestEnv = New-TestEnvironment -Name 'serialization'
    $PoolName = 'ser-pool'
    $PoolPath = (New-TestPool -Environment $TestEnv -Name $PoolName).Path
    $BackupRoot = (New-Item -ItemType Directory -Path (Join-Path $TestEnv.Root 'backup') -ErrorAction Stop).FullName
    $Interface = 'sser' + [guid]::NewGuid().ToString('N').Substring(0, 6)

    function ConvertTo-Deserialized([object] $InputObject) {
        [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($InputObject))
    }

    # Names of the properties ending in Bytes, at any depth, whose parsed JSON value is not a number.
    function Get-NonNumericSize([object] $Parsed, [string] $Prefix = '') {
        foreach ($property in $Parsed.PSObject.Properties) {
            $value = $property.Value
            if ($property.Name -like '*Bytes' -and -not ($value -is [long] -or $value -is [int] -or $value -is [decimal] -or $value -is [double])) {
                "$Prefix$($property.Name)"
            }
            elseif ($value -is [System.Management.Automation.PSCustomObject]) {
                Get-NonNumericSize -Parsed $value -Prefix "$Prefix$($property.Name)."
            }
        }
    }
}

AfterAll {
    Get-AtaoeExport -ErrorAction Ignore | Stop-AtaoeExport -Confirm:$false -ErrorAction Continue
    if ($Interface -and (Test-Path -LiteralPath "/sys/class/net/$Interface")) {
        & ip link delete $Interface
    }
    Remove-TestEnvironment -Environment $TestEnv
}

Describe 'Deserialized objects on the pipeline' {
    BeforeEach {
        $Volume = New-SparseVolume -Name ('ser' + [guid]::NewGuid().ToString('N').Substring(0, 6)) -Pool $PoolName -Size 16MB
        Write-Pattern -Path $Volume.Path -Offset 1MB -Length 1MB -Seed 1
    }

    AfterEach {
        Get-SparseVolume -Pool $PoolName | Remove-SparseVolume -Force
    }

    It 'a volume keeps its values and type name, and pipes into Get-SparseVolume' {
        $deserialized = ConvertTo-Deserialized $Volume

        $deserialized.PSObject.TypeNames[0] | Should -Be 'Deserialized.SparseStorage.Core.Volumes.SparseVolume'
        $deserialized.Path | Should -Be $Volume.Path
        $deserialized.SizeBytes | Should -Be 16MB
        $live = $deserialized | Get-SparseVolume
        $live | Should -BeOfType 'SparseStorage.Core.Volumes.SparseVolume'
        $live.Path | Should -Be $Volume.Path
    }

    It 'a pool pipes into Get-SparseVolume, which lists its volumes' {
        $deserialized = ConvertTo-Deserialized (Get-StoragePool -Name $PoolName)

        $deserialized.PSObject.TypeNames[0] | Should -Be 'Deserialized.SparseStorage.Core.Pools.StoragePool'
        $deserialized.ProvisionedBytes | Should -Be 16MB
        ($deserialized | Get-SparseVolume).Path | Should -Be $Volume.Path
    }

    It 'a deserialized pool pipes into Unregister-StoragePool, and a volume is refused there' {
        $spare = Register-StoragePool -Name 'ser-spare' -Path (New-Item -ItemType Directory -Path (Join-Path $TestEnv.Root 'spare')).FullName
        $deserialized = ConvertTo-Deserialized $spare

        $deserialized | Unregister-StoragePool -Confirm:$false
        Get-StoragePool -Name 'ser-spare' -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        { Get-SparseVolume -Path $Volume.Path | Unregister-StoragePool -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'InputObjectOfWrongType,SparseStorage.PowerShell.Commands.UnregisterStoragePoolCommand'
        Get-StoragePool -Name $PoolName | Should -Not -BeNullOrEmpty
    }

    It 'a snapshot pipes into Remove-VolumeSnapshot, which removes that snapshot only' {
        $null = New-VolumeSnapshot -VolumePath $Volume.Path -Name 'keep'
        $deserialized = ConvertTo-Deserialized (New-VolumeSnapshot -VolumePath $Volume.Path -Name 'drop')

        $deserialized.PSObject.TypeNames[0] | Should -Be 'Deserialized.SparseStorage.Core.Snapshots.VolumeSnapshot'
        $deserialized | Remove-VolumeSnapshot -Confirm:$false
        (Get-VolumeSnapshot -VolumePath $Volume.Path).Name | Should -Be 'keep'
    }

    It 'a backup set pipes into Restore-SparseVolume and Remove-VolumeBackup' {
        $deserialized = ConvertTo-Deserialized (Backup-SparseVolume -Path $Volume.Path -Destination $BackupRoot)

        $deserialized.PSObject.TypeNames[0] | Should -Be 'Deserialized.SparseStorage.Core.Backups.VolumeBackup'
        $restored = $deserialized | Restore-SparseVolume -Destination 'ser-restored' -Confirm:$false
        Get-Sha256 -Path $restored.Path | Should -Be (Get-Sha256 -Path $Volume.Path)
        $deserialized | Remove-VolumeBackup -Confirm:$false
        Test-Path -LiteralPath $deserialized.BackupPath | Should -BeFalse
    }

    It 'a volume pipes into Mount-SparseVolume and Dismount-SparseVolume' -Skip:$SkipMount {
        $formatted = New-SparseVolume -Name 'ser-mount' -Pool $PoolName -Size 64MB -FileSystem Ext4
        $mountPoint = Join-Path $TestEnv.MountDirectory 'ser-mount'

        $mounted = ConvertTo-Deserialized $formatted | Mount-SparseVolume -MountPoint $mountPoint
        $mounted.IsMounted | Should -BeTrue
        ConvertTo-Deserialized $mounted | Dismount-SparseVolume
        (Get-SparseVolume -Path $formatted.Path).IsMounted | Should -BeFalse
    }

    It 'an export pipes into Stop-AtaoeExport' -Skip:$SkipExport {
        & ip link add $Interface type veth peer name "$Interface-p"
        & ip link set $Interface up
        $export = $Volume | Export-AtaoeDisk -Shelf 61 -Interface $Interface -Confirm:$false
        $deserialized = ConvertTo-Deserialized $export

        $deserialized.PSObject.TypeNames[0] | Should -Be 'Deserialized.SparseStorage.Core.Aoe.AtaoeExport'
        $deserialized | Stop-AtaoeExport -Confirm:$false
        Get-AtaoeExport -Shelf 61 | Should -BeNullOrEmpty
    }
}

Describe 'Cmdlet output as JSON' {
    BeforeAll {
        $volume = New-SparseVolume -Name 'json' -Pool $PoolName -Size 32MB
        Write-Pattern -Path $volume.Path -Offset 1MB -Length 1MB -Seed 2
        $Outputs = [ordered]@{
            'Get-StorageHost'       = Get-StorageHost
            'Get-StoragePool'       = Get-StoragePool -Name $PoolName
            'Get-SparseVolume'      = Get-SparseVolume -Path $volume.Path
            'New-VolumeSnapshot'    = New-VolumeSnapshot -VolumePath $volume.Path -Name 'json-snap'
            'Backup-SparseVolume'   = Backup-SparseVolume -Path $volume.Path -Destination $BackupRoot
            'Resize-SparseVolume'   = Resize-SparseVolume -Path $volume.Path -Delta 16MB
            'Optimize-SparseVolume' = Optimize-SparseVolume -Path $volume.Path
            'Test-SparseVolume'     = Test-SparseVolume -Path $volume.Path
            'AtaoeTarget'           = [SparseStorage.Core.Aoe.AtaoeTarget]@{ Shelf = 1; Slot = 2; Interface = 'eth1'; MacAddress = '02:00:00:00:00:01'; Sectors = 2048 }
        }
    }

    It '<_> converts without truncation, and parses back with every size a number' -ForEach @(
        'Get-StorageHost', 'Get-StoragePool', 'Get-SparseVolume', 'New-VolumeSnapshot', 'Backup-SparseVolume',
        'Resize-SparseVolume', 'Optimize-SparseVolume', 'Test-SparseVolume', 'AtaoeTarget'
    ) {
        $command = $_
        $output = $Outputs[$command]
        $output | Should -Not -BeNullOrEmpty

        $json = $output | ConvertTo-Json -Depth 3 -WarningVariable truncated -WarningAction SilentlyContinue
        $truncated | Should -BeNullOrEmpty -Because 'depth 3 holds the whole object'
        $parsed = $json | ConvertFrom-Json

        Get-NonNumericSize -Parsed $parsed | Should -BeNullOrEmpty
        if ($command -notin 'Get-StorageHost', 'Test-SparseVolume') {
            @($parsed.PSObject.Properties | Where-Object Name -Like '*Bytes').Count | Should -BeGreaterThan 0 -Because 'the sizes are there to check'
        }
    }

    It 'Compress-SparseVolume converts without truncation, and parses back with every size a number' -Skip:$SkipArchive {
        $archive = Compress-SparseVolume -Path $volume.Path -Destination (Join-Path $TestEnv.Root 'json.img.tar.zst')

        $json = $archive | ConvertTo-Json -Depth 3 -WarningVariable truncated -WarningAction SilentlyContinue
        $truncated | Should -BeNullOrEmpty
        $parsed = $json | ConvertFrom-Json
        Get-NonNumericSize -Parsed $parsed | Should -BeNullOrEmpty
        $parsed.StoredBytes | Should -Be $archive.StoredBytes
    }
}
