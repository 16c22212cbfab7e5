namespace SparseStorage.Core.Planning;

/// <summary>How much a plan can destroy; High asks for confirmation even where the cmdlet's usual impact is Medium.</summary>
public enum PlanImpact
{
    Medium,
    High,
}
