# The class-based DSC resources SparseStoragePool and SparseVolume of the SparseStorageDsc module (built beside
# SparseStorage in out/), driven the way a configuration manager drives them: Get, Test, Set, Test again, and Set
# again, which must change nothing. Every scenario runs twice:
#
# - through the classes' own Get()/Test()/Set(), on instances of the types that 'using module <SparseStorageDsc
#   manifest>' exposes (which is how Invoke-DscResource creates them). This needs nothing beyond the two modules, so
#   it always runs;
# - through Invoke-DscResource, which needs PSDesiredStateConfiguration 2.0.7 or a later 2.x (3.x is a different
#   product, and PowerShell 7.2 and later ship none): Install-PSResource -Name PSDesiredStateConfiguration -Version
#   '[2.0.7,3.0)'. Where it is not installed these tests are skipped with that reason, even with
#   SPARSESTORAGE_INTEGRATION=require: it is published only on the PowerShell Gallery, which CI cannot reach (NuGet
#   does not serve it). Invoke-DscResource finds resources through $env:PSModulePath, so for its duration this run
#   puts the built module's out/ folder first in it.
#
# The volume tests need root and the tools (loop devices, mount(8), mkfs.ext4, resize2fs on an attached image) and
# skip otherwise unless SPARSESTORAGE_INTEGRATION=require; the encrypted volume also needs cryptsetup and
# device-mapper, or qemu-storage-daemon and FUSE, as in Encryption.Tests.ps1.

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'prerequisites.ps1')

    # The same query as the Invoke-DscResource run's BeforeAll (discovery variables do not reach BeforeAll).
    $HasDscModule = @(Get-Module -ListAvailable -Name PSDesiredStateConfiguration |
            Where-Object { $_.Version -ge [version] '2.0.7' -and $_.Version.Major -eq 2 }).Count -gt 0
    $Drivers = @(
        @{ Driver = 'class methods'; SkipReason = $null }
        @{
            Driver     = 'Invoke-DscResource'
            SkipReason = if (-not $HasDscModule) {
                "needs PSDesiredStateConfiguration 2.0.7 or a later 2.x, which is not installed (only the PowerShell Gallery publishes it); the class methods run covers the same scenarios"
            }
        }
    )
    $SkipVolumes = -not $RequireIntegration -and -not ($IsRoot -and (Test-Tool 'losetup', 'mount', 'umount', 'mkfs.ext4', 'resize2fs', 'e2fsck'))
    $SkipEncrypted = $SkipVolumes -or (-not $RequireIntegration -and -not ((Test-Tool 'cryptsetup') -and ($HasDeviceMapper -or $HasUserspace)))
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'common.ps1')

    # What a second Set must leave untouched: the image's size, allocation and modification time, and its mount.
    function Get-VolumeFingerprint([string] $Pool, [string] $Name) {
        $volume = Get-SparseVolume -Name $Name -Pool $Pool -ErrorAction Stop
        [pscustomobject]@{
            SizeBytes      = $volume.SizeBytes
            AllocatedBytes = $volume.AllocatedBytes
            Modified       = (Get-Item -LiteralPath $volume.Path).LastWriteTimeUtc
            LoopDevice     = $volume.LoopDevice
            MountPoint     = $volume.MountPoint
        }
    }
}

Describe 'DSC resources through <Driver>' -ForEach $Drivers {
    BeforeAll {
        $TestEnv = New-TestEnvironment -Name 'dsc'
        $SavedModulePath = $env:PSModulePath
        if ($Driver -eq 'Invoke-DscResource' -and $null -eq $SkipReason) {
            $DscModule = Get-Module -ListAvailable -Name PSDesiredStateConfiguration |
                Where-Object { $_.Version -ge [version] '2.0.7' -and $_.Version.Major -eq 2 } |
                Sort-Object -Property Version -Descending |
                Select-Object -First 1
            Import-Module -ModuleInfo $DscModule -Force -ErrorAction Stop
            $OutDirectory = Split-Path -Parent (Split-Path -Parent (Split-Path -Parent $SparseStorageManifestPath))
            $env:PSModulePath = $OutDirectory + [System.IO.Path]::PathSeparator + $env:PSModulePath
        }
        $ModuleSpecification = @{ ModuleName = 'SparseStorageDsc'; ModuleVersion = $SparseStorageVersion }
        # The classes as 'using module' exposes them, the way Invoke-DscResource gets them.
        $ResourceTypes = @{}
        foreach ($type in [scriptblock]::Create("using module '$($SparseStorageDscManifestPath.Replace("'", "''"))'`n[SparseStoragePool], [SparseVolume]").Invoke()) {
            $ResourceTypes[$type.Name] = $type
        }

        # Answers as Invoke-DscResource does: Get the resource's properties, Test InDesiredState, Set RebootRequired.
        function Invoke-Dsc([string] $Name, [string] $Method, [hashtable] $Property) {
            if ($Driver -eq 'Invoke-DscResource') {
                return Invoke-DscResource -Name $Name -ModuleName $ModuleSpecification -Method $Method -Property $Property -ErrorAction Stop
            }
            $resource = $ResourceTypes[$Name]::new()
            foreach ($key in $Property.Keys) {
                $resource.$key = $Property[$key]
            }
            switch ($Method) {
                'Get' { $resource.Get() }
                'Test' { [pscustomobject]@{ InDesiredState = $resource.Test() } }
                'Set' { $resource.Set(); [pscustomobject]@{ RebootRequired = $false } }
            }
        }
    }

    BeforeEach {
        if ($null -ne $SkipReason) {
            Set-ItResult -Skipped -Because $SkipReason
        }
    }

    AfterAll {
        $env:PSModulePath = $SavedModulePath
        Remove-TestEnvironment -Environment $TestEnv
    }

    Context 'SparseStoragePool resource' {
        BeforeAll {
            $PoolDirectory = New-TestDirectory -Environment $TestEnv -Name 'dsc-pool'
            $PoolProperties = @{ Name = 'dsc-pool'; Path = $PoolDirectory }
        }

        It 'is absent, then registered by Set, then in desired state, and a second Set changes nothing' {
            "$((Invoke-Dsc SparseStoragePool Get $PoolProperties).Ensure)" | Should -Be 'Absent'
            (Invoke-Dsc SparseStoragePool Test $PoolProperties).InDesiredState | Should -BeFalse

            $null = Invoke-Dsc SparseStoragePool Set $PoolProperties

            (Invoke-Dsc SparseStoragePool Test $PoolProperties).InDesiredState | Should -BeTrue
            $current = Invoke-Dsc SparseStoragePool Get $PoolProperties
            "$($current.Ensure)" | Should -Be 'Present'
            $current.Path | Should -Be $PoolDirectory
            $configBefore = Get-FileHash -LiteralPath $TestEnv.ConfigPath
            $null = Invoke-Dsc SparseStoragePool Set $PoolProperties
            (Get-FileHash -LiteralPath $TestEnv.ConfigPath).Hash | Should -Be $configBefore.Hash
        }

        It 'refuses to move a pool registered for another directory' {
            $elsewhere = New-TestDirectory -Environment $TestEnv -Name 'dsc-pool-elsewhere'
            $moved = @{ Name = 'dsc-pool'; Path = $elsewhere }

            (Invoke-Dsc SparseStoragePool Test $moved).InDesiredState | Should -BeFalse
            { Invoke-Dsc SparseStoragePool Set $moved } | Should -Throw '*does not move pools*'
            (Get-StoragePool -Name 'dsc-pool' -ErrorAction Stop).Path | Should -Be $PoolDirectory
        }

        It 'unregisters the pool with Ensure = Absent and keeps its directory' {
            $absent = @{ Name = 'dsc-pool'; Ensure = 'Absent' }

            $null = Invoke-Dsc SparseStoragePool Set $absent

            (Invoke-Dsc SparseStoragePool Test $absent).InDesiredState | Should -BeTrue
            @(Get-StoragePool -ErrorAction Stop | Where-Object Name -EQ 'dsc-pool') | Should -HaveCount 0
            Test-Path -LiteralPath $PoolDirectory -PathType Container | Should -BeTrue
        }
    }

    Context 'SparseVolume resource' -Skip:$SkipVolumes {
        BeforeAll {
            $PoolName = 'dsc-volumes'
            $null = New-TestPool -Environment $TestEnv -Name $PoolName
        }

        Context 'a plain ext4 volume' {
            BeforeAll {
                $Plain = @{ Name = 'plain'; Pool = $PoolName; Size = '256MB'; Format = 'Raw'; FileSystem = 'Ext4' }
            }

            It 'is absent, created by Set, then in desired state' {
                "$((Invoke-Dsc SparseVolume Get $Plain).Ensure)" | Should -Be 'Absent'
                (Invoke-Dsc SparseVolume Test $Plain).InDesiredState | Should -BeFalse

                $null = Invoke-Dsc SparseVolume Set $Plain

                (Invoke-Dsc SparseVolume Test $Plain).InDesiredState | Should -BeTrue
                $volume = Get-SparseVolume -Name 'plain' -Pool $PoolName -ErrorAction Stop
                $volume.SizeBytes | Should -Be 256MB
                "$($volume.FileSystem)" | Should -Be 'Ext4'
                $current = Invoke-Dsc SparseVolume Get $Plain
                "$($current.Ensure)" | Should -Be 'Present'
                $current.SizeBytes | Should -Be 256MB
                $current.Path | Should -Be $volume.Path
            }

            It 'is left untouched by a second Set' {
                $before = Get-VolumeFingerprint -Pool $PoolName -Name 'plain'
                Start-Sleep -Milliseconds 20 # a rewrite within the same clock tick would keep the modification time

                $null = Invoke-Dsc SparseVolume Set $Plain

                $after = Get-VolumeFingerprint -Pool $PoolName -Name 'plain'
                $after.SizeBytes | Should -Be $before.SizeBytes
                $after.AllocatedBytes | Should -Be $before.AllocatedBytes
                $after.Modified | Should -Be $before.Modified
            }

            It 'grows to a larger Size' {
                $larger = $Plain.Clone()
                $larger.Size = '512MB'
                (Invoke-Dsc SparseVolume Test $larger).InDesiredState | Should -BeFalse

                $null = Invoke-Dsc SparseVolume Set $larger

                (Invoke-Dsc SparseVolume Test $larger).InDesiredState | Should -BeTrue
                $volume = Get-SparseVolume -Name 'plain' -Pool $PoolName -ErrorAction Stop
                $volume.SizeBytes | Should -Be 512MB
                $volume.FileSystemSizeBytes | Should -BeGreaterThan 256MB
            }

            It 'refuses to shrink without AllowShrink and changes nothing' {
                (Invoke-Dsc SparseVolume Test $Plain).InDesiredState | Should -BeFalse

                { Invoke-Dsc SparseVolume Set $Plain } | Should -Throw '*AllowShrink*'

                (Get-SparseVolume -Name 'plain' -Pool $PoolName -ErrorAction Stop).SizeBytes | Should -Be 512MB
            }

            It 'shrinks with AllowShrink' {
                $shrink = $Plain.Clone()
                $shrink.AllowShrink = $true

                $null = Invoke-Dsc SparseVolume Set $shrink

                (Invoke-Dsc SparseVolume Test $shrink).InDesiredState | Should -BeTrue
                (Get-SparseVolume -Name 'plain' -Pool $PoolName -ErrorAction Stop).SizeBytes | Should -Be 256MB
            }

            It 'never reformats a volume that holds another filesystem' {
                $xfs = $Plain.Clone()
                $xfs.FileSystem = 'Xfs'
                (Invoke-Dsc SparseVolume Test $xfs).InDesiredState | Should -BeFalse

                { Invoke-Dsc SparseVolume Set $xfs } | Should -Throw '*never reformats*'

                "$((Get-SparseVolume -Name 'plain' -Pool $PoolName -ErrorAction Stop).FileSystem)" | Should -Be 'Ext4'
            }

            It 'is removed with Ensure = Absent' {
                $absent = @{ Name = 'plain'; Pool = $PoolName; Ensure = 'Absent' }
                $path = (Get-SparseVolume -Name 'plain' -Pool $PoolName -ErrorAction Stop).Path

                $null = Invoke-Dsc SparseVolume Set $absent

                (Invoke-Dsc SparseVolume Test $absent).InDesiredState | Should -BeTrue
                Test-Path -LiteralPath $path | Should -BeFalse
            }
        }

        Context 'a mounted volume' {
            BeforeAll {
                $MountPoint = Join-Path $TestEnv.MountDirectory 'mounted'
                $Mounted = @{ Name = 'mounted'; Pool = $PoolName; Size = '128MB'; FileSystem = 'Ext4'; MountPoint = $MountPoint }
            }

            It 'is created and mounted where asked, and a second Set keeps the same mount' {
                (Invoke-Dsc SparseVolume Test $Mounted).InDesiredState | Should -BeFalse

                $null = Invoke-Dsc SparseVolume Set $Mounted

                (Invoke-Dsc SparseVolume Test $Mounted).InDesiredState | Should -BeTrue
                $before = Get-VolumeFingerprint -Pool $PoolName -Name 'mounted'
                $before.MountPoint | Should -Be $MountPoint
                $null = Invoke-Dsc SparseVolume Set $Mounted
                $after = Get-VolumeFingerprint -Pool $PoolName -Name 'mounted'
                $after.LoopDevice | Should -Be $before.LoopDevice
                $after.MountPoint | Should -Be $MountPoint
                $after.SizeBytes | Should -Be $before.SizeBytes
            }

            It 'is dismounted and removed with Ensure = Absent' {
                $null = Invoke-Dsc SparseVolume Set @{ Name = 'mounted'; Pool = $PoolName; Ensure = 'Absent' }

                @(Get-SparseVolume -Pool $PoolName -ErrorAction Stop | Where-Object Name -EQ 'mounted') | Should -HaveCount 0
                @(Get-MountPointUnder -Directory $MountPoint) | Should -HaveCount 0
            }
        }

        Context 'an encrypted volume' -Skip:$SkipEncrypted {
            BeforeAll {
                $KeyDirectory = (New-Item -ItemType Directory -Path (Join-Path $TestEnv.Root 'keys') -ErrorAction Stop).FullName
                $KeyFile = New-KeyFile -Directory $KeyDirectory -Name 'secret.key'
                $MountPoint = Join-Path $TestEnv.MountDirectory 'secret'
                $Secret = @{
                    Name = 'secret'; Pool = $PoolName; Size = '64MB'; FileSystem = 'Ext4'
                    Encrypted = $true; KeyFile = $KeyFile; MountPoint = $MountPoint
                }
            }

            It 'is created, encrypted with the key file and mounted, then in desired state' {
                (Invoke-Dsc SparseVolume Test $Secret).InDesiredState | Should -BeFalse

                $null = Invoke-Dsc SparseVolume Set $Secret

                (Invoke-Dsc SparseVolume Test $Secret).InDesiredState | Should -BeTrue
                $volume = Get-SparseVolume -Name 'secret' -Pool $PoolName -ErrorAction Stop
                $volume.Encryption | Should -Not -Be 'None'
                $volume.MountPoint | Should -Be $MountPoint
                "$($volume.FileSystem)" | Should -Be 'Ext4'
                (Invoke-Dsc SparseVolume Get $Secret).Encrypted | Should -BeTrue
            }

            It 'is left untouched by a second Set' {
                $before = Get-VolumeFingerprint -Pool $PoolName -Name 'secret'

                $null = Invoke-Dsc SparseVolume Set $Secret

                $after = Get-VolumeFingerprint -Pool $PoolName -Name 'secret'
                $after.LoopDevice | Should -Be $before.LoopDevice
                $after.MountPoint | Should -Be $before.MountPoint
                $after.SizeBytes | Should -Be $before.SizeBytes
            }

            It 'is dismounted, locked and removed with Ensure = Absent' {
                $null = Invoke-Dsc SparseVolume Set @{ Name = 'secret'; Pool = $PoolName; Ensure = 'Absent' }

                @(Get-SparseVolume -Pool $PoolName -ErrorAction Stop | Where-Object Name -EQ 'secret') | Should -HaveCount 0
                @(Get-MountPointUnder -Directory $MountPoint) | Should -HaveCount 0
            }
        }
    }
}
