using System.Diagnostics;
using System.Globalization;

namespace SparseStorage.Bench;

/// <summary>
/// The module as a pwsh user meets it, in fresh <c>$PSHOME/pwsh -NoProfile -NonInteractive</c> processes running the
/// built module from out/: how long <c>Import-Module SparseStorage</c> takes against <c>Import-Module PSReadLine</c>
/// (a binary module shipped with pwsh), and how long <c>Get-SparseVolume</c> of N volumes takes rendered as its
/// default table (<c>| Out-String</c>) against getting the objects alone.
/// </summary>
internal sealed class ModuleBenchmark(BenchEnvironment environment, BenchOptions options, Report report)
{
    private const string Pool = "bench-module";
    private const long VolumeSize = 16L << 20;

    public void Run()
    {
        var pwsh = PwshExecutable();
        var modulesDirectory = BuiltModulesDirectory();
        report.Section($"module: Import-Module in a fresh pwsh, and Get-SparseVolume rendered as the default table ({pwsh})");
        report.Line($"module: {Path.Combine(modulesDirectory, "SparseStorage")} (found by name through PSModulePath)");
        Import(pwsh, modulesDirectory);
        Render(pwsh, modulesDirectory);
    }

    /// <summary>
    /// Rounds of one fresh pwsh per module, alternating which goes first (round 0 warms the disk cache and is not
    /// counted). The time is measured inside the child around Import-Module alone, so pwsh's own start-up is excluded.
    /// </summary>
    private void Import(string pwsh, string modulesDirectory)
    {
        var (ours, peer, oursProcess, peerProcess) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
        for (var round = 0; round <= options.Repeats; round++)
        {
            var first = round % 2 == 0 ? "SparseStorage" : "PSReadLine";
            var second = first == "SparseStorage" ? "PSReadLine" : "SparseStorage";
            var a = TimeImport(pwsh, modulesDirectory, first);
            var b = TimeImport(pwsh, modulesDirectory, second);
            if (round == 0)
                continue;
            foreach (var (module, times) in new[] { (first, a), (second, b) })
            {
                (module == "SparseStorage" ? ours : peer).Add(times.Import);
                (module == "SparseStorage" ? oursProcess : peerProcess).Add(times.Process);
            }
        }
        report.Line($"Import-Module SparseStorage:   {Stats.Spread(ours)}; whole pwsh process {Stats.Spread(oursProcess)}");
        report.Line($"Import-Module PSReadLine:      {Stats.Spread(peer)}; whole pwsh process {Stats.Spread(peerProcess)}");
        var ratio = Stats.Median(ours) / Stats.Median(peer);
        report.Line($"ratio SparseStorage / PSReadLine: {Stats.Ratio(ratio)} (target ≤ 1.0×)");
        report.Summary("module", $"Import-Module SparseStorage (median of {ours.Count})", Stats.Ms(Stats.Median(ours)));
        report.Summary("module", $"Import-Module PSReadLine (median of {peer.Count})", Stats.Ms(Stats.Median(peer)));
        report.Summary("module", "ratio import SparseStorage / PSReadLine", Stats.Ratio(ratio), $"≤ 1.0×: {(ratio <= 1.0 ? "met" : "NOT met")}");
    }

    private (double Import, double Process) TimeImport(string pwsh, string modulesDirectory, string module)
    {
        var script = $$"""
            $ErrorActionPreference = 'Stop'
            if (Get-Module -Name {{module}}) { throw '{{module}} was loaded before the import' }
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            Import-Module -Name {{module}}
            $elapsed = $clock.Elapsed.TotalMilliseconds
            if (-not (Get-Module -Name {{module}})) { throw '{{module}} did not load' }
            'import ' + $elapsed.ToString([cultureinfo]::InvariantCulture)
            """;
        var clock = Stopwatch.StartNew();
        var output = RunPwsh(pwsh, modulesDirectory, script);
        return (Figure(output, "import"), clock.Elapsed.TotalMilliseconds);
    }

    /// <summary>
    /// One pwsh with the module imported and a pool of N small sparse raw files; after a warm-up of each, rounds
    /// alternate getting the objects (@(Get-SparseVolume)), rendering them as the default table (Get-SparseVolume |
    /// Out-String), and rendering objects already in hand ($volumes | Out-String).
    /// </summary>
    private void Render(string pwsh, string modulesDirectory)
    {
        var count = options.Volumes;
        var pool = environment.NewPool(Pool);
        for (var i = 0; i < count; i++)
        {
            using var file = File.Create(Path.Combine(pool, $"vol{i:D5}.img"));
            file.SetLength(VolumeSize);
        }
        var rounds = Math.Max(3, Math.Min(options.Repeats, 10));
        var script = $$"""
            $ErrorActionPreference = 'Stop'
            Import-Module -Name SparseStorage
            function Time([scriptblock] $Block) {
                $clock = [System.Diagnostics.Stopwatch]::StartNew()
                $null = & $Block
                $clock.Elapsed.TotalMilliseconds.ToString([cultureinfo]::InvariantCulture)
            }
            $volumes = @(Get-SparseVolume -Pool {{Pool}})
            if ($volumes.Count -ne {{count}}) { throw "Get-SparseVolume listed $($volumes.Count) volumes, not {{count}}" }
            $table = $volumes | Out-String
            if (-not $table.Contains('vol00000')) { throw 'the default table does not name the volumes' }
            $null = Get-SparseVolume -Pool {{Pool}} | Out-String
            'lines ' + ($table -split "`n").Count
            for ($round = 0; $round -lt {{rounds}}; $round++) {
                'objects ' + (Time { @(Get-SparseVolume -Pool {{Pool}}) })
                'table ' + (Time { Get-SparseVolume -Pool {{Pool}} | Out-String })
                'render ' + (Time { $volumes | Out-String })
            }
            """;
        var output = RunPwsh(pwsh, modulesDirectory, script);
        var perThousand = 1000.0 / count;
        var objects = Figures(output, "objects").Select(t => t * perThousand).ToList();
        var table = Figures(output, "table").Select(t => t * perThousand).ToList();
        var render = Figures(output, "render").Select(t => t * perThousand).ToList();
        report.Line($"{count} volumes in pool '{Pool}' (sparse raw files of {VolumeSize >> 20} MiB), default table of {Figure(output, "lines")} lines; figures per 1,000 volumes, {rounds} rounds after a warm-up");
        report.Line($"{$"@(Get-SparseVolume -Pool {Pool}):",-50} {Stats.Spread(objects)}");
        report.Line($"{$"Get-SparseVolume -Pool {Pool} | Out-String:",-50} {Stats.Spread(table)}");
        report.Line($"{"$volumes | Out-String (objects in hand):",-50} {Stats.Spread(render)}");
        var ratio = Stats.Median(table) / Stats.Median(objects);
        report.Line($"ratio table / objects: {Stats.Ratio(ratio)}");
        report.Summary("module", "Get-SparseVolume objects, per 1,000 volumes", Stats.Ms(Stats.Median(objects)));
        report.Summary("module", "Get-SparseVolume | Out-String (default table), per 1,000 volumes", Stats.Ms(Stats.Median(table)));
        report.Summary("module", "Out-String of objects in hand, per 1,000 volumes", Stats.Ms(Stats.Median(render)));
        report.Summary("module", "ratio default table / objects", Stats.Ratio(ratio));
    }

    private string RunPwsh(string pwsh, string modulesDirectory, string script)
    {
        var info = new ProcessStartInfo(pwsh)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "-NoProfile", "-NonInteractive", "-Command", script })
            info.ArgumentList.Add(argument);
        info.Environment["PSModulePath"] = modulesDirectory + Path.PathSeparator + Path.Combine(Path.GetDirectoryName(pwsh)!, "Modules");
        info.Environment["SPARSESTORAGE_CONFIG"] = environment.Context.Pools.ConfigurationPath;
        info.Environment["SPARSESTORAGE_RUNTIME_DIR"] = Path.Combine(environment.Root, "run");
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{pwsh} did not start");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var errors = stderr.GetAwaiter().GetResult();
        return process.ExitCode == 0 && errors.Trim().Length == 0 ? stdout
            : throw new InvalidOperationException($"pwsh failed ({process.ExitCode}): {errors.Trim()}\n{stdout.Trim()}");
    }

    private static double Figure(string output, string name) => Figures(output, name).Single();

    private static List<double> Figures(string output, string name) =>
        output.Split('\n')
            .Select(l => l.Trim())
            .Where(l => l.StartsWith(name + " ", StringComparison.Ordinal))
            .Select(l => double.Parse(l[(name.Length + 1)..], CultureInfo.InvariantCulture))
            .ToList();

    /// <summary>
    /// $PSHOME/pwsh of the pwsh on the PATH (or the .NET global tool's): the global tool's pwsh is a shim that runs
    /// 'dotnet pwsh.dll', and PSReadLine's figure must not include the shim's start-up any more than ours does.
    /// </summary>
    private static string PwshExecutable()
    {
        var shim = Environment.GetEnvironmentVariable("PATH")?.Split(Path.PathSeparator)
                       .Select(d => Path.Combine(d, "pwsh")).FirstOrDefault(File.Exists)
                   ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".dotnet", "tools", "pwsh");
        var home = Shell.Run(shim, "-NoProfile", "-NonInteractive", "-Command", "$PSHOME").Trim();
        return Path.Combine(home, "pwsh");
    }

    /// <summary>out/ of the repository (build.ps1 -Task Build assembles out/SparseStorage/&lt;version&gt;/ there).</summary>
    private static string BuiltModulesDirectory()
    {
        var results = Machine.DefaultResultsDirectory();
        var repository = Path.GetDirectoryName(Path.GetDirectoryName(results))!;
        var modules = Path.Combine(repository, "out");
        return Directory.Exists(Path.Combine(modules, "SparseStorage")) ? modules
            : throw new InvalidOperationException($"No built module in {modules}/SparseStorage: run ./build.ps1 -Task Build first.");
    }
}
