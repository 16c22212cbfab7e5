# Workflow 6, export over the network: a node exports a pool's volumes as AoE targets (vblade) on one end of a veth
# pair; a supervisor in another network namespace discovers them with Find-AtaoeDisk, run in a child pwsh through
# 'ip netns exec'; the node stops the exports and the targets vanish from the wire. The suite makes its own
# namespace and veth pair, and AfterAll stops every export of its run-time directory and deletes the namespace
# (which removes the pair). Needs root, vblade, start-stop-daemon and ip; skipped otherwise, failing instead when
# SPARSESTORAGE_INTEGRATION=require.

BeforeDiscovery {
    $RequireIntegration = $env:SPARSESTORAGE_INTEGRATION -eq 'require'
    $Tools = 'vblade', 'start-stop-daemon', 'ip'
    $HasTools = @($Tools | Where-Object { -not (Get-Command -Name $_ -CommandType Application -ErrorAction Ignore) }).Count -eq 0
    $Skip = -not $RequireIntegration -and -not (((& id -u) -eq '0') -and $HasTools)
}

BeforeAll {
    . (Join-Path $PSScriptRoot '../common.ps1')
    $TestEnv = New-TestEnvironment -Name 'wf-aoe'
    $PoolName = 'wf-aoe'
    $PoolPath = (New-TestPool -Environment $TestEnv -Name $PoolName).Path
    $Shelf = 51
    $Lab = New-AoeLab -Prefix 'sswf'
    $Supervisor = $Lab.Supervisor
    $NodeInterface = $Lab.NodeInterface
    $SupervisorInterface = $Lab.SupervisorInterface

    # Shelf.Slot=SizeBytes of every target the supervisor sees, sorted.
    function Find-FromSupervisor {
        $command = "Import-Module '$SparseStorageManifestPath'; Find-AtaoeDisk -Interface $SupervisorInterface -Timeout 1 | " +
            'ForEach-Object { ''{0}.{1}={2}'' -f $_.Shelf, $_.Slot, $_.SizeBytes }'
        $lines = & ip netns exec $Supervisor $PwshPath -NoProfile -NonInteractive -Command $command
        if ($LASTEXITCODE -ne 0) {
            throw "Find-AtaoeDisk in $Supervisor failed ($LASTEXITCODE): $lines"
        }
        @($lines | Where-Object { $_ } | Sort-Object)
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

Describe 'AoE export and discovery across network namespaces' -Skip:$Skip {
    It 'exports a pool on a shelf, which the supervisor discovers, and stops the exports one by one' {
        $null = New-SparseVolume -Name 'disk0' -Pool $PoolName -Size 8MB
        $null = New-SparseVolume -Name 'disk1' -Pool $PoolName -Size 16MB

        $exports = @(Get-SparseVolume -Pool $PoolName | Sort-Object Name |
                Export-AtaoeDisk -Shelf $Shelf -Interface $NodeInterface -Confirm:$false)
        $exports | Should -HaveCount 2
        ($exports.Slot -join ',') | Should -Be '0,1'
        @($exports | Where-Object State -NE 'Running') | Should -BeNullOrEmpty
        @(Get-AtaoeExport -Shelf $Shelf -Interface $NodeInterface) | Should -HaveCount 2

        (Find-FromSupervisor) -join ' ' | Should -Be "$Shelf.0=$(8MB) $Shelf.1=$(16MB)"

        Get-AtaoeExport -Shelf $Shelf | Where-Object Slot -EQ 0 | Stop-AtaoeExport -Confirm:$false
        (Find-FromSupervisor) -join ' ' | Should -Be "$Shelf.1=$(16MB)"
        { Remove-SparseVolume -Name 'disk1' -Pool $PoolName -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'VolumeInUse,SparseStorage.PowerShell.Commands.RemoveSparseVolumeCommand'

        Get-AtaoeExport -Shelf $Shelf | Stop-AtaoeExport -Confirm:$false
        Get-AtaoeExport | Should -BeNullOrEmpty
        (Find-FromSupervisor) -join ' ' | Should -Be ''
        Get-SparseVolume -Pool $PoolName | Remove-SparseVolume -Confirm:$false
        Get-ChildItem -LiteralPath $PoolPath -Force | Should -BeNullOrEmpty
    }
}
