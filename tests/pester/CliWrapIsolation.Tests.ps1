# SparseStorage starts every tool through CliWrap. A binary module shares the default load context with every other
# module in the session, so another module that loaded a different CliWrap first would break it, unless the module
# keeps its own copy apart (dependencies/CliWrap.dll, loaded into a private AssemblyLoadContext by SparseStorage.Core).
# The other CliWrap is a stand-in compiled here: same name and public key token as the real one, version 3.6.0.0.

BeforeAll {
    . (Join-Path $PSScriptRoot 'common.ps1')
    $TestEnv = New-TestEnvironment -Name 'cliwrap'
    $ModuleFolder = Split-Path -Parent $SparseStorageManifestPath
    $Work = Join-Path $TestEnv.Root 'cliwrap'
    $null = New-Item -ItemType Directory -Path $Work

    # Compiles a CliWrap 3.6.0.0 with the real one's public key (public signing: no private key is needed, and .NET
    # does not verify strong-name signatures), so that the default load context takes it for the same assembly.
    function New-OtherCliWrap([string] $Path) {
        Add-Type -AssemblyName Microsoft.CodeAnalysis.CSharp -ErrorAction SilentlyContinue
        $publicKey = [Reflection.AssemblyName]::GetAssemblyName((Join-Path $ModuleFolder 'dependencies/CliWrap.dll')).GetPublicKey()
        $source = '[assembly: System.Reflection.AssemblyVersion("3.6.0.0")]
            namespace CliWrap { public static class Cli { public static string Origin => "another module"; } }'
        $options = [Microsoft.CodeAnalysis.CSharp.CSharpCompilationOptions]::new([Microsoft.CodeAnalysis.OutputKind]::DynamicallyLinkedLibrary).
            WithCryptoPublicKey([System.Collections.Immutable.ImmutableArray]::Create([byte[]] $publicKey)).WithPublicSign($true)
        $compilation = [Microsoft.CodeAnalysis.CSharp.CSharpCompilation]::Create('CliWrap',
            [Microsoft.CodeAnalysis.SyntaxTree[]] @([Microsoft.CodeAnalysis.CSharp.CSharpSyntaxTree]::ParseText($source)),
            [Microsoft.CodeAnalysis.MetadataReference[]] @([Microsoft.CodeAnalysis.MetadataReference]::CreateFromFile([object].Assembly.Location)),
            $options)
        $stream = [System.IO.File]::Create($Path)
        try {
            $result = $compilation.Emit($stream)
        }
        finally {
            $stream.Dispose()
        }
        if (-not $result.Success) {
            throw "The stand-in CliWrap did not compile: $($result.Diagnostics -join '; ')"
        }
    }

    $ShippedVersion = [Reflection.AssemblyName]::GetAssemblyName((Join-Path $ModuleFolder 'dependencies/CliWrap.dll')).Version
    $OtherCliWrap = Join-Path $Work 'CliWrap.dll'
    New-OtherCliWrap -Path $OtherCliWrap
    $PoolPath = New-TestDirectory -Environment $TestEnv -Name 'isolation'

    # A fresh pwsh (started from $PSHOME, which works for every install of PowerShell) in which the other CliWrap is
    # loaded before SparseStorage; it prints one JSON object with what it saw. The pool configuration comes from
    # SPARSESTORAGE_CONFIG and SPARSESTORAGE_RUNTIME_DIR, which the child inherits.
    $child = Join-Path $Work 'child.ps1'
    Set-Content -LiteralPath $child -Value @'
param([string] $OtherCliWrap, [string] $Manifest, [string] $PoolPath)
$ErrorActionPreference = 'Stop'
Add-Type -LiteralPath $OtherCliWrap
$origin = [CliWrap.Cli]::Origin
Import-Module -Name $Manifest
$storageHost = Get-StorageHost
$null = Register-StoragePool -Name 'cliwrap-isolation' -Path $PoolPath
$volume = New-SparseVolume -Name 'isolated' -Pool 'cliwrap-isolation' -Size 64MB -Format Qcow2 -Confirm:$false
[pscustomobject]@{
    Origin   = $origin
    Tools    = @($storageHost.Tools | Where-Object { $null -ne $_.Version } | ForEach-Object Name)
    Volume   = $volume.Format.ToString()
    Size     = $volume.SizeBytes
    Contexts = @([AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'CliWrap' } |
        ForEach-Object { '{0} {1}' -f $_.GetName().Version, [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext($_).Name })
} | ConvertTo-Json -Compress
'@
    $output = & (Join-Path $PSHOME 'pwsh') -NoProfile -NonInteractive -File $child -OtherCliWrap $OtherCliWrap `
        -Manifest $SparseStorageManifestPath -PoolPath $PoolPath 2>&1
    $ChildExitCode = $LASTEXITCODE
    $ChildOutput = $output | Out-String
    $Seen = if ($ChildExitCode -eq 0) { @($output)[-1] | ConvertFrom-Json } else { $null }
}

AfterAll {
    Remove-TestEnvironment -Environment $TestEnv
}

Describe 'SparseStorage beside a module that loaded another CliWrap first' {
    It 'imports and runs tools through its own CliWrap' {
        $ChildExitCode | Should -Be 0 -Because $ChildOutput
        $Seen.Origin | Should -Be 'another module' -Because 'the other CliWrap was really loaded first'
        $Seen.Tools | Should -Contain 'qemu-img' -Because 'Get-StorageHost asked qemu-img its version'
        $Seen.Volume | Should -Be 'Qcow2'
        $Seen.Size | Should -Be 64MB
        Test-Path -LiteralPath (Join-Path $PoolPath 'isolated.qcow2') | Should -BeTrue -Because 'qemu-img create ran'
    }

    It 'keeps the other CliWrap in the default load context and its own apart' {
        $Seen.Contexts | Should -Contain '3.6.0.0 Default'
        $Seen.Contexts | Should -Contain "$ShippedVersion SparseStorage dependencies"
        $ShippedVersion | Should -Not -Be ([version] '3.6.0.0')
    }
}
