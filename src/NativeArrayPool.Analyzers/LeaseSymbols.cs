using Microsoft.CodeAnalysis;

namespace NativeBuffers.Analyzers;

/// <summary>
/// The library's types and members the analysis recognises, resolved once per compilation. A compilation that does
/// not reference NativeArrayPool has none, and nothing is analysed.
/// </summary>
internal sealed class LeaseSymbols
{
    private LeaseSymbols(INamedTypeSymbol pool, INamedTypeSymbol lease, INamedTypeSymbol? disposable, Compilation compilation)
    {
        Pool = pool;
        Lease = lease;
        Disposable = disposable;
        Span = compilation.GetTypeByMetadataName("System.Span`1");
        ReadOnlySpan = compilation.GetTypeByMetadataName("System.ReadOnlySpan`1");
        Memory = compilation.GetTypeByMetadataName("System.Memory`1");
        ReadOnlyMemory = compilation.GetTypeByMetadataName("System.ReadOnlyMemory`1");
    }

    /// <summary>NativeArrayPool&lt;T&gt;: Rent, Return, Resize.</summary>
    public INamedTypeSymbol Pool { get; }

    /// <summary>NativeBuffer&lt;T&gt;, the lease.</summary>
    public INamedTypeSymbol Lease { get; }

    public INamedTypeSymbol? Disposable { get; }
    public INamedTypeSymbol? Span { get; }
    public INamedTypeSymbol? ReadOnlySpan { get; }
    public INamedTypeSymbol? Memory { get; }
    public INamedTypeSymbol? ReadOnlyMemory { get; }

    public static LeaseSymbols? TryCreate(Compilation compilation)
    {
        INamedTypeSymbol? pool = compilation.GetTypeByMetadataName("NativeBuffers.NativeArrayPool`1");
        INamedTypeSymbol? lease = compilation.GetTypeByMetadataName("NativeBuffers.NativeBuffer`1");
        if (pool is null || lease is null)
            return null;
        return new LeaseSymbols(pool, lease, compilation.GetSpecialType(SpecialType.System_IDisposable), compilation);
    }

    public bool IsLease(ITypeSymbol? type) =>
        type is INamedTypeSymbol named && SymbolEqualityComparer.Default.Equals(named.OriginalDefinition, Lease);

    /// <summary>A span, memory or pointer: a view whose validity ends with the lease it was taken from.</summary>
    public bool IsView(ITypeSymbol? type)
    {
        if (type is IPointerTypeSymbol)
            return true;
        if (type is not INamedTypeSymbol named)
            return false;
        INamedTypeSymbol definition = named.OriginalDefinition;
        return Is(definition, Span) || Is(definition, ReadOnlySpan) || Is(definition, Memory) || Is(definition, ReadOnlyMemory);
    }

    public bool IsSpanOrMemory(ITypeSymbol? type) => type is not IPointerTypeSymbol && IsView(type);

    /// <summary>A Memory&lt;T&gt; or ReadOnlyMemory&lt;T&gt;: the one view that can be kept on the heap.</summary>
    public bool IsMemory(ITypeSymbol? type) =>
        type is INamedTypeSymbol named && (Is(named.OriginalDefinition, Memory) || Is(named.OriginalDefinition, ReadOnlyMemory));

    public bool IsPoolMethod(IMethodSymbol method, string name) =>
        method.Name == name && Is(method.ContainingType?.OriginalDefinition, Pool);

    public bool IsLeaseMember(ISymbol member, string name) =>
        member.Name == name && Is(member.ContainingType?.OriginalDefinition, Lease);

    public bool IsDisposeMethod(IMethodSymbol method) =>
        method.Name == "Dispose" && method.Parameters.Length == 0 &&
        (Is(method.ContainingType?.OriginalDefinition, Lease) || Is(method.ContainingType, Disposable));

    private static bool Is(ISymbol? a, ISymbol? b) => b is not null && SymbolEqualityComparer.Default.Equals(a, b);
}
