# ATA over Ethernet end to end: Export-AtaoeDisk, Get-AtaoeExport, Stop-AtaoeExport in this session, and Find-AtaoeDisk
# from a child pwsh in a supervisor network namespace. The suite makes its own veth pair: one end in this session's
# namespace (vblade serves on it), the other in a namespace it creates; no real interface of the machine is used, and
# AfterAll deletes the namespace (which removes the pair) and stops every export of the suite's run-time directory.
#
# Needs root, vblade, start-stop-daemon and ip; skipped otherwise, and failing instead when
# SPARSESTORAGE_INTEGRATION=require. Every Export- and Stop- passes -Confirm:$false (build.ps1 runs -NonInteractive).

BeforeDiscovery {
    $RequireIntegration = $env:SPARSESTORAGE_INTEGRATION -eq 'require'
    $IsRoot = (& id -u) -eq '0'
    $Tools = 'vblade', 'start-stop-daemon', 'ip'
    $HasTools = @($Tools | Where-Object { -not (Get-Command -Name $_ -CommandType Application -ErrorAction Ignore) }).Count -eq 0
    $SkipAoe = -not $RequireIntegration -and -not ($IsRoot -and $HasTools)
    $HasAoeDriver = (Test-Path -LiteralPath '/sys/module/aoe') -or (Test-Path -LiteralPath '/dev/etherd')
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'common.ps1')
    $TestEnv = New-TestEnvironment -Name 'ataoe'
    $PoolName = 'pester-aoe'
    $null = New-TestPool -Environment $TestEnv -Name $PoolName
    $Lab = New-AoeLab -Prefix 'sstest'
    $Supervisor = $Lab.Supervisor
    $NodeInterface = $Lab.NodeInterface
    $SupervisorInterface = $Lab.SupervisorInterface

    # Find-AtaoeDisk in the supervisor namespace, in a child pwsh that imports the same built module.
    function Find-FromSupervisor {
        $command = "Import-Module '$SparseStorageManifestPath'; Find-AtaoeDisk -Interface $SupervisorInterface -Timeout 1 | " +
            'Select-Object Shelf, Slot, MacAddress, SizeBytes, BufferCount | ConvertTo-Json -AsArray'
        $json = & ip netns exec $Supervisor $PwshPath -NoProfile -NonInteractive -Command $command
        if ($LASTEXITCODE -ne 0) {
            throw "Find-AtaoeDisk in $Supervisor failed ($LASTEXITCODE): $json"
        }
        # With no target found ConvertTo-Json -AsArray gets no input and prints nothing, and ConvertFrom-Json of an
        # empty text would yield one $null: no output means no targets.
        $text = ($json -join "`n").Trim()
        if ($text.Length -gt 0) {
            $text | ConvertFrom-Json
        }
    }
}

AfterAll {
    try {
        Remove-AoeLab -Lab $Lab
    }
    finally {
        Remove-TestEnvironment -Environment $TestEnv
    }
}

Describe 'Export-AtaoeDisk, Get-AtaoeExport and Stop-AtaoeExport' -Skip:$SkipAoe {
    BeforeEach {
        $Volume = New-SparseVolume -Name ('aoe' + [guid]::NewGuid().ToString('N').Substring(0, 6)) -Pool $PoolName -Size 8MB -FileSystem None -Confirm:$false -ErrorAction Stop
    }

    AfterEach {
        Get-AtaoeExport | Stop-AtaoeExport -Confirm:$false
        $Volume | Remove-SparseVolume -Force -Confirm:$false
    }

    It '-WhatIf shows the command line that starts vblade and starts nothing' {
        # The plan's steps go to the verbose stream ("Plan: ...") as well as into the What if: line, which the host
        # prints. The messages are matched, not Out-String's rendering, which wraps long lines at the host's width.
        $output = @($Volume | Export-AtaoeDisk -Shelf 41 -Interface $NodeInterface -WhatIf -Verbose 4>&1)
        $output | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] } | Should -BeNullOrEmpty
        $plan = @($output.Message | Where-Object { $_ -like 'Plan: *' })
        $plan | Should -HaveCount 2
        $plan[0] | Should -BeLike 'Plan: start-stop-daemon --start --background *'
        $plan[0] | Should -Match ([regex]::Escape("vblade -- 41 0 $NodeInterface $($Volume.Path)") + '$')
        $plan[1] | Should -Be "Plan: Wait until vblade serves e41.0 on $NodeInterface, then record the export"
        Get-AtaoeExport | Should -BeNullOrEmpty
        @(Get-Process -Name vblade -ErrorAction Ignore | Where-Object { $_.CommandLine -like "*$($Volume.Path)*" }) | Should -HaveCount 0
    }

    It 'exports a piped volume on the lowest free slot, which the supervisor finds with its size, until it is stopped' {
        $export = $Volume | Export-AtaoeDisk -Shelf 41 -Interface $NodeInterface -Confirm:$false
        $export.PSObject.TypeNames[0] | Should -Be 'SparseStorage.Core.Aoe.AtaoeExport'
        $export.Slot | Should -Be 0
        $export.State | Should -Be 'Running'
        (Get-AtaoeExport -Shelf 41).VolumePath | Should -Be $Volume.Path

        $found = @(Find-FromSupervisor)
        $found | Should -HaveCount 1
        $found[0].Shelf | Should -Be 41
        $found[0].SizeBytes | Should -Be 8MB

        $stopPlan = @(Get-AtaoeExport -Shelf 41 | Stop-AtaoeExport -WhatIf -Verbose 4>&1)
        $stopPlan.Message | Should -Contain "Plan: Stop vblade pid $($export.ProcessId) serving $($Volume.Path) (SIGTERM, then SIGKILL after 5 s)"
        (Get-AtaoeExport -Shelf 41).State | Should -Be 'Running'

        $stopped = @(Get-AtaoeExport -Shelf 41 | Stop-AtaoeExport -Confirm:$false -Verbose 4>&1)
        @($stopped.Message | Where-Object { $_ -like 'Step: *' }) | Should -Be @($stopPlan.Message | Where-Object { $_ -like 'Plan: *' } | ForEach-Object { $_ -replace '^Plan: ', 'Step: ' })
        Get-AtaoeExport | Should -BeNullOrEmpty
        Find-FromSupervisor | Should -HaveCount 0
    }

    It 'refuses an address in use, a missing interface and a shelf out of range' {
        $null = $Volume | Export-AtaoeDisk -Shelf 42 -Slot 3 -Interface $NodeInterface -ReadOnly -Confirm:$false
        { $Volume | Export-AtaoeDisk -Shelf 42 -Slot 3 -Interface $NodeInterface -ReadOnly -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'AoeAddressInUse,SparseStorage.PowerShell.Commands.ExportAtaoeDiskCommand'
        { $Volume | Export-AtaoeDisk -Shelf 42 -Interface 'nosuchif0' -ReadOnly -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'AoeInterfaceNotFound,SparseStorage.PowerShell.Commands.ExportAtaoeDiskCommand'
        { $Volume | Export-AtaoeDisk -Shelf 65535 -Interface $NodeInterface -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'ParameterArgumentValidationError,SparseStorage.PowerShell.Commands.ExportAtaoeDiskCommand'
        @(Get-AtaoeExport) | Should -HaveCount 1
    }
}

Describe 'Add-AtaoeDiskToGroup' {
    # Planning reads LVM's reports (pvs, vgs), which needs root.
    It 'plans the LVM commands with a warning, and the run names the missing aoe driver and changes nothing' -Skip:($HasAoeDriver -or -not ($IsRoot -or $RequireIntegration)) {
        $target = [SparseStorage.Core.Aoe.AtaoeTarget]@{ Shelf = 1; Slot = 1; Interface = 'eth1'; MacAddress = '02:00:00:00:00:01' }
        $group = 'pester' + [guid]::NewGuid().ToString('N').Substring(0, 8)

        $output = @($target | Add-AtaoeDiskToGroup -VolumeGroup $group -WhatIf -Verbose -WarningVariable warnings -WarningAction SilentlyContinue 4>&1)

        $output | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] } | Should -BeNullOrEmpty
        @($output.Message | Where-Object { $_ -like 'Plan: *' }) |
            Should -Be @('Plan: aoe-discover', 'Plan: pvcreate /dev/etherd/e1.1', "Plan: vgcreate $group /dev/etherd/e1.1")
        "$warnings" | Should -BeLike '*aoe driver*will refuse*'
        { $target | Add-AtaoeDiskToGroup -VolumeGroup $group -Confirm:$false -WarningAction SilentlyContinue -ErrorAction Stop } |
            Should -Throw -ErrorId 'AoeDriverMissing,SparseStorage.PowerShell.Commands.AddAtaoeDiskToGroupCommand' -ExpectedMessage '*aoe driver*'
        Test-Path -LiteralPath '/dev/etherd' | Should -BeFalse
        @(& vgs --noheadings --options vg_name 2>$null) -match "\b$group\b" | Should -BeNullOrEmpty
    }
}
