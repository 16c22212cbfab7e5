#Requires -Version 7.4
<#
.SYNOPSIS
Provisions tenant volumes from a CSV file: creates each volume, encrypts it with a key file when asked, mounts it,
and reports what each tenant got.

.DESCRIPTION
Reads one tenant a row from -CsvPath (see examples/tenants.csv) with the columns:

    Name        the volume's name (required)
    Pool        a registered pool (required)
    Size        the virtual size: 2TB, 500GiB, 10737418240 (required)
    Format      Raw or Qcow2 (default Raw)
    FileSystem  None, Ext2, Ext3, Ext4, Xfs, Btrfs or Swap (default None)
    Label       the filesystem label (optional)
    Encrypted   true to put the volume in a LUKS container opened by the key file <KeyDirectory>/<Name>.key
    MountPoint  where to mount the volume (optional; left unmounted when empty)

A volume that exists already is not created again, protected again or mounted twice, so the script can run again
after a partial failure: it finishes what is missing. A row that fails is reported as an error and the next row is
processed; the script then exits with code 1.

Keys come only from files: with -NewKeys a missing key file is created (48 random bytes, base64, mode 0600, as
'openssl rand -base64 48' makes them); without it a missing key file is an error. Keys are never written to the
output, the report or an error.

Protect-Volume asks for confirmation (High impact): run unattended with -Confirm:$false. Creating, encrypting and
mounting need root.

.PARAMETER CsvPath
The CSV file with one tenant a row.

.PARAMETER KeyDirectory
The directory of the key files of encrypted tenants, <Name>.key each. Required when a row has Encrypted = true.

.PARAMETER NewKeys
Create a key file that does not exist yet instead of failing.

.PARAMETER IterationTime
Milliseconds of key derivation for each new key slot (Protect-Volume -IterationTime).

.PARAMETER ReportPath
Also write the report as CSV to this file (sizes in bytes).

.OUTPUTS
One object a tenant: Name, Pool, Path, Status (Created, Exists or Failed), Format, FileSystem, SizeBytes,
AllocatedBytes, Encryption, MountPoint, Error.

.EXAMPLE
sudo pwsh -File ./examples/provision-tenants.ps1 -CsvPath ./examples/tenants.csv -KeyDirectory /etc/sparsestorage/keys -NewKeys '-Confirm:$false'

.EXAMPLE
./examples/provision-tenants.ps1 -CsvPath ./tenants.csv -KeyDirectory ./keys -WhatIf
Shows what would be created, encrypted and mounted, and changes nothing.
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    [Parameter(Mandatory)]
    [ValidateNotNullOrEmpty()]
    [string] $CsvPath,

    [string] $KeyDirectory,

    [switch] $NewKeys,

    [ValidateRange(100, 60000)]
    [int] $IterationTime = 2000,

    [string] $ReportPath
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

# A column's value, or '' when the CSV has no such column (StrictMode refuses a missing property).
function Get-Column([psobject] $Row, [string] $Name) {
    $property = $Row.PSObject.Properties[$Name]
    if ($null -eq $property -or $null -eq $property.Value) { '' } else { ([string] $property.Value).Trim() }
}

function Get-TenantKeyFile([string] $Name) {
    if (-not $KeyDirectory) {
        throw "Tenant '$Name' is to be encrypted, but no -KeyDirectory was given."
    }
    $path = Join-Path $KeyDirectory "$Name.key"
    if (-not (Test-Path -LiteralPath $path -PathType Leaf)) {
        if (-not $NewKeys) {
            throw "The key file $path of tenant '$Name' does not exist; create it or run with -NewKeys."
        }
        New-TenantKeyFile -Path $path
    }
    $path
}

function New-TenantKeyFile([string] $Path) {
    if (-not $PSCmdlet.ShouldProcess($Path, 'Create key file')) {
        return
    }
    $null = New-Item -ItemType Directory -Path (Split-Path -Parent $Path) -Force
    # Created empty with mode 0600 before the key is written, so the key is never readable by others.
    [System.IO.File]::WriteAllBytes($Path, [byte[]]::new(0))
    [System.IO.File]::SetUnixFileMode($Path, [System.IO.UnixFileMode] 'UserRead, UserWrite')
    $key = [Convert]::ToBase64String([System.Security.Cryptography.RandomNumberGenerator]::GetBytes(48))
    [System.IO.File]::WriteAllText($Path, "$key`n")
}

function New-TenantVolume([psobject] $Row, [string] $Name, [string] $Pool) {
    $parameters = @{ Name = $Name; Pool = $Pool; Size = (Get-Column $Row 'Size') }
    foreach ($column in 'Format', 'FileSystem', 'Label') {
        $value = Get-Column $Row $column
        if ($value) { $parameters[$column] = $value }
    }
    New-SparseVolume @parameters
}

function Initialize-Tenant([psobject] $Row) {
    $name = Get-Column $Row 'Name'
    $pool = Get-Column $Row 'Pool'
    if (-not $name -or -not $pool -or -not (Get-Column $Row 'Size')) {
        throw "Every row needs Name, Pool and Size; this one has Name '$name', Pool '$pool'."
    }
    $encrypted = (Get-Column $Row 'Encrypted') -eq 'true'
    $mountPoint = Get-Column $Row 'MountPoint'
    $keyFile = if ($encrypted) { Get-TenantKeyFile -Name $name } else { $null }

    $volume = Get-SparseVolume -Name $name -Pool $pool -ErrorAction SilentlyContinue
    $status = 'Exists'
    if ($null -eq $volume) {
        $volume = New-TenantVolume -Row $Row -Name $name -Pool $pool
        $status = 'Created'
    }
    if ($null -ne $volume -and $encrypted -and $volume.Encryption -eq 'None') {
        $volume = Protect-Volume -Path $volume.Path -KeyFile $keyFile -IterationTime $IterationTime -PassThru
    }
    if ($null -ne $volume -and $mountPoint -and -not $volume.IsMounted) {
        $mount = @{ Path = $volume.Path; MountPoint = $mountPoint }
        if ($encrypted) { $mount.KeyFile = $keyFile }
        $volume = Mount-SparseVolume @mount
    }
    if ($null -eq $volume) {
        return New-ReportRow -Name $name -Pool $pool -Status 'WhatIf'
    }
    New-ReportRow -Name $name -Pool $pool -Status $status -Volume $volume
}

function New-ReportRow([string] $Name, [string] $Pool, [string] $Status, [psobject] $Volume, [string] $Message) {
    [pscustomobject]@{
        Name           = $Name
        Pool           = $Pool
        Path           = if ($Volume) { $Volume.Path } else { $null }
        Status         = $Status
        Format         = if ($Volume) { $Volume.Format.ToString() } else { $null }
        FileSystem     = if ($Volume) { $Volume.FileSystem.ToString() } else { $null }
        SizeBytes      = if ($Volume) { $Volume.SizeBytes } else { $null }
        AllocatedBytes = if ($Volume) { $Volume.AllocatedBytes } else { $null }
        Encryption     = if ($Volume) { $Volume.Encryption } else { $null }
        MountPoint     = if ($Volume) { $Volume.MountPoint } else { $null }
        Error          = $Message
    }
}

try {
    if (-not (Get-Module -Name SparseStorage)) {
        Import-Module -Name SparseStorage
    }
    $rows = @(Import-Csv -LiteralPath $CsvPath)
    $report = [System.Collections.Generic.List[object]]::new()
    $failed = 0
    foreach ($row in $rows) {
        try {
            $report.Add((Initialize-Tenant -Row $row))
        }
        catch {
            $failed++
            Write-Error -ErrorRecord $_ -ErrorAction Continue
            $report.Add((New-ReportRow -Name (Get-Column $row 'Name') -Pool (Get-Column $row 'Pool') -Status 'Failed' -Message $_.Exception.Message))
        }
    }
    if ($ReportPath -and $report.Count -gt 0) {
        $report | Export-Csv -LiteralPath $ReportPath -NoTypeInformation
    }
    $report
    if ($failed -gt 0) {
        throw "$failed of $($rows.Count) tenants failed; the others are provisioned."
    }
}
catch {
    Write-Error -ErrorRecord $_ -ErrorAction Continue
    exit 1
}
