using System.Text.RegularExpressions;
using SparseStorage.Core.Planning;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Ceph;

/// <summary>What Register-StoragePool -CephPool was asked for.</summary>
public sealed record RegisterCephPoolRequest(string Name, CephPoolSettings Settings, double? MaxOvercommit = null);

/// <summary>A Ceph pool's registration as planned: the check that the cluster answers, then the configuration change.</summary>
public sealed record RegisterCephPoolPlan(RegisterCephPoolRequest Request, string ConfigurationPath, IReadOnlyList<string> PlannedSteps) : OperationPlan
{
    public override string Target => Request.Settings.Location;
    public override string Action => $"Register storage pool '{Request.Name}'";
    public override IReadOnlyList<string> Steps => PlannedSteps;
}

/// <summary>
/// Registers an RBD pool (and namespace) of a Ceph cluster as a pool. The plan checks what it can without the cluster
/// (names, files, the keyring's permissions) and lists the pool's images once, which proves that the configuration,
/// the client id and its key reach the pool; Apply lists them again and writes the configuration.
/// </summary>
public sealed partial class CephPoolRegistration(StorageContext context) : IPlannedOperation<RegisterCephPoolRequest, RegisterCephPoolPlan, StoragePool>
{
    // Ceph's own rules are looser; these keep names out of qemu's option syntax (',' '=' ':' '@' '/') and of shells.
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    private static partial Regex CephName();

    public RegisterCephPoolPlan Plan(RegisterCephPoolRequest request)
    {
        Names.RequireValid(request.Name, "Pool");
        ProvisioningGuard.RequireValidLimit(request.MaxOvercommit);
        var settings = request.Settings;
        RequireCephName(settings.Pool, "-CephPool");
        RequireCephName(settings.User, "-CephUser");
        if (settings.Namespace is not null)
            RequireCephName(settings.Namespace, "-CephNamespace");
        RequireFile(settings.ConfigPath, "-CephConfig", "Ceph configuration");
        var warnings = new List<string>();
        if (settings.Keyring is not null)
        {
            RequireFile(settings.Keyring, "-CephKeyring", "keyring");
            if (Exposure(settings.Keyring) is { } exposure)
                warnings.Add(exposure);
        }
        if (context.Pools.Definitions().Concat(context.Pools.Refused().Select(r => r.Pool))
                .FirstOrDefault(p => p.Name.Equals(request.Name, StringComparison.OrdinalIgnoreCase)) is { } same)
            throw new ResourceExistsException("PoolExists", $"A pool named '{same.Name}' is already registered at {same.Path}.", request.Name);
        var plan = new RegisterCephPoolPlan(request, context.Pools.ConfigurationPath, []) { Warnings = warnings };
        ReachPool(context.Runner, settings, CancellationToken.None);
        var dryRun = StepRunner.ForPlan(context);
        Run(dryRun, plan);
        return plan with { PlannedSteps = dryRun.Steps };
    }

    public StoragePool Apply(RegisterCephPoolPlan plan, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        Run(StepRunner.ForApply(context, progress, $"Registering {plan.Request.Name}", cancellationToken), plan);
        return context.Pools.Describe(context.Pools.Find(plan.Request.Name));
    }

    private void Run(StepRunner steps, RegisterCephPoolPlan plan)
    {
        var settings = plan.Request.Settings;
        steps.Measure(new CephTools(settings).ListNames().ToString(), () => ReachPool(context.Runner, settings, steps.Cancellation), 0);
        steps.Do($"add pool '{plan.Request.Name}' ({settings.Location} as {settings.ClientName}, {settings.ConfigPath}) to {plan.ConfigurationPath}",
            () => context.Pools.AddCeph(plan.Request.Name, settings, plan.Request.MaxOvercommit));
    }

    /// <summary>Lists the pool's images: proves that the cluster answers and the client may read the pool; the count.</summary>
    private static int ReachPool(IProcessRunner runner, CephPoolSettings settings, CancellationToken cancellationToken)
    {
        var command = new CephTools(settings).ListNames();
        var result = runner.Run(command, cancellationToken);
        if (result.ExitCode != 0)
            throw new StorageOperationException("CephPoolUnreachable",
                $"{settings.Location} cannot be read as {settings.ClientName} with {settings.ConfigPath}: {LastLine(result.StandardError)}", settings.Location,
                new ToolFailedException(result));
        return CephListing.Names(result.StandardOutput).Count;
    }

    private static string LastLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "no message";

    private static void RequireCephName(string value, string parameter)
    {
        if (!CephName().IsMatch(value))
            throw new InvalidStorageArgumentException("InvalidCephName",
                $"{parameter} '{value}' is not a name the module uses: letters, digits, '.', '_' and '-', starting with a letter or digit.", value);
    }

    private static void RequireFile(string path, string parameter, string what)
    {
        if (!Path.IsPathRooted(path) || !File.Exists(path))
            throw new InvalidStorageArgumentException("CephFileNotFound", $"{parameter}: the {what} file '{path}' does not exist (an absolute path is needed).", path);
    }

    /// <summary>A warning when others than the owner may read the keyring: whoever reads it holds the client's key.</summary>
    private static string? Exposure(string keyring) =>
        (File.GetUnixFileMode(keyring) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead)) != 0
            ? $"The keyring {keyring} is readable by others than its owner; whoever can read it acts as this Ceph client (chmod 600 {keyring})."
            : null;
}
