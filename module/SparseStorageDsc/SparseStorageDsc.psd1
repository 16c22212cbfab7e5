@{
    RootModule           = 'SparseStorageDsc.psm1'
    # Always the version of SparseStorage it ships with; the packager refuses a mismatch.
    ModuleVersion        = '0.1.0'
    GUID                 = '8c2b6f0e-4d17-4a5c-b3e9-6a1f2d7c9e43'
    Author               = 'SparseStorage contributors'
    CompanyName          = 'SparseStorage'
    Copyright            = '(c) SparseStorage contributors. MIT License.'
    Description          = 'Class-based DSC resources for SparseStorage: SparseStoragePool (a registered pool) and SparseVolume (a thin-provisioned volume: size, format, filesystem, mount, encryption), for Invoke-DscResource (PSDesiredStateConfiguration 2.x).'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    RequiredModules      = @(
        @{
            ModuleName      = 'SparseStorage'
            RequiredVersion = '0.1.0'
        }
    )
    CmdletsToExport      = @()
    FunctionsToExport    = @()
    DscResourcesToExport = @('SparseVolume', 'SparseStoragePool')
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags       = @('DSC', 'DesiredStateConfiguration', 'Linux', 'Storage', 'Sparse', 'ThinProvisioning')
            LicenseUri = 'https://opensource.org/licenses/MIT'
        }
    }
}
