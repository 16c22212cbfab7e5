# What a user sees of the module before running anything: it imports, exports what the manifest says, every cmdlet
# has real help (from the MAML the build generates), and its objects serialize to JSON predictably.

BeforeDiscovery {
    # One help block per cmdlet the source manifest promises.
    $Cmdlets = (Import-PowerShellDataFile -LiteralPath (Join-Path $PSScriptRoot '../../SparseStorage.psd1')).CmdletsToExport
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'common.ps1')
    $TestEnv = New-TestEnvironment -Name 'contract'
}

AfterAll {
    Remove-TestEnvironment -Environment $TestEnv
}

Describe 'The built module' {
    It 'is imported from out/ at the version of the source manifest' {
        $module = @(Get-Module -Name SparseStorage)

        $module | Should -HaveCount 1
        $module[0].ModuleBase | Should -Be (Split-Path -Parent $SparseStorageManifestPath)
        $module[0].Version | Should -Be ([version] $SparseStorageVersion)
    }

    It 'imports into a fresh pwsh session' {
        $command = "Import-Module -Name '$SparseStorageManifestPath' -ErrorAction Stop; (Get-Command -Module SparseStorage).Count"

        $count = & $PwshPath -NoProfile -NonInteractive -Command $command

        $LASTEXITCODE | Should -Be 0
        $count | Should -Be (Import-PowerShellDataFile -LiteralPath $SparseStorageManifestPath).CmdletsToExport.Count
    }

    It 'exports exactly the cmdlets its manifest lists, and nothing else' {
        $manifest = Import-PowerShellDataFile -LiteralPath $SparseStorageManifestPath
        $exported = @(Get-Command -Module SparseStorage)

        $exported.CommandType | Sort-Object -Unique | Should -Be 'Cmdlet'
        ($exported.Name | Sort-Object) -join ',' | Should -Be (($manifest.CmdletsToExport | Sort-Object) -join ',')
    }
}

Describe 'Help' {
    BeforeAll {
        # PowerShell looks help up by the UI culture and its parents only, never falling back to en-US; under
        # LANG=C.UTF-8 (the invariant culture) or any other locale it would find none. Read the en-US help.
        $savedUICulture = [System.Globalization.CultureInfo]::CurrentUICulture
        [System.Globalization.CultureInfo]::CurrentUICulture = [System.Globalization.CultureInfo]::GetCultureInfo('en-US')
    }

    AfterAll {
        [System.Globalization.CultureInfo]::CurrentUICulture = $savedUICulture
    }

    Context '<CommandName>' -ForEach @($Cmdlets | ForEach-Object { @{ CommandName = $_ } }) {
        BeforeAll {
            $help = Get-Help -Name $CommandName -Full
        }

        It 'has a synopsis of its own' {
            $help.Synopsis | Should -Not -BeNullOrEmpty
            # Without a help file, Get-Help makes the synopsis up from the syntax, which starts with the command name.
            $help.Synopsis.Trim() | Should -Not -Match "^$([regex]::Escape($CommandName))(\s|$)"
        }

        It 'has at least two examples' {
            $examples = if ($help.examples) { @($help.examples.example) } else { @() }

            $examples.Count | Should -BeGreaterOrEqual 2
            foreach ($example in $examples) {
                $example.code | Should -Not -BeNullOrEmpty
            }
        }
    }
}

Describe 'SparseVolume objects as JSON' {
    BeforeAll {
        $null = New-TestPool -Environment $TestEnv -Name 'pester-json'
        $volume = New-SparseVolume -Name 'json' -Pool 'pester-json' -Size 1GB
    }

    It 'writes SizeBytes as a JSON number, and enums by name without -EnumsAsStrings' {
        # docs/json.md: the module's enums are backed by long, which ConvertTo-Json writes with ToString(); only the
        # experimental feature PSSerializeJSONLongEnumAsNumber (off in released PowerShell) makes them numbers.
        $longEnumsAsNumbers = [System.Management.Automation.ExperimentalFeature]::IsEnabled('PSSerializeJSONLongEnumAsNumber')

        $json = $volume | ConvertTo-Json -Depth 3 -Compress

        $json | Should -Match '"SizeBytes":1073741824[,}]'
        if ($longEnumsAsNumbers) {
            $json | Should -Match '"Format":0[,}]'
        }
        else {
            $json | Should -Match '"Format":"Raw"'
            $json | Should -Match '"FileSystem":"None"'
        }
    }

    It 'writes enums by name with -EnumsAsStrings' {
        $json = $volume | ConvertTo-Json -Depth 3 -Compress -EnumsAsStrings

        $json | Should -Match '"SizeBytes":1073741824[,}]'
        $json | Should -Match '"Format":"Raw"'
        $json | Should -Match '"FileSystem":"None"'
    }

    It 'comes back from ConvertFrom-Json with the same values' {
        $back = $volume | ConvertTo-Json -Depth 3 -EnumsAsStrings | ConvertFrom-Json

        $back.SizeBytes | Should -BeOfType ([long])
        $back.SizeBytes | Should -Be $volume.SizeBytes
        $back.Format | Should -Be 'Raw'
        $back.Path | Should -Be $volume.Path
    }
}
