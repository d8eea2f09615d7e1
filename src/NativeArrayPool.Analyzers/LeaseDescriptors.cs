using Microsoft.CodeAnalysis;

namespace NativeBuffers.Analyzers;

/// <summary>
/// The diagnostics of the lease analyzer, one per lease bug. Each has a section in docs/analyzers.md 
/// saying what it catches, why it matters with native memory, how to fix it and how to suppress it.
/// </summary>
internal static class LeaseDescriptors
{
    private const string Category = "Reliability";

    public static readonly DiagnosticDescriptor LeaseLeaked = new(
        id: "NAP001",
        title: "A rented NativeBuffer is neither returned nor handed off",
        messageFormat: "The lease rented into '{0}' is not returned, disposed or handed off on a path that {1}: its native memory leaks until the pool is disposed",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Warning,
        isEnabledByDefault: true,
        description: "Return the lease with pool.Return in a finally block, declare it with 'using', or hand it off (return it, store it, pass it on). See docs/analyzers.md in the NativeArrayPool repository.");

    public static readonly DiagnosticDescriptor UseAfterReturn = new(
        id: "NAP002",
        title: "A NativeBuffer is used after it was returned",
        messageFormat: "'{0}' is used ({1}) after it was returned or disposed on every path here: the memory may already belong to another tenant",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Warning,
        isEnabledByDefault: true,
        description: "Use the lease before returning it, or rent a new one. See docs/analyzers.md in the NativeArrayPool repository.");

    public static readonly DiagnosticDescriptor StaleView = new(
        id: "NAP003",
        title: "A span or pointer taken from a NativeBuffer is used after the lease was resized or returned",
        messageFormat: "'{0}' was taken from '{1}' before {2}: it may point at memory the pool has moved, unmapped or lent to another tenant",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Warning,
        isEnabledByDefault: true,
        description: "Take the span or pointer again from the lease after Resize (b.AsSpan(), b.Pointer), and stop using it once the lease is returned. See docs/analyzers.md in the NativeArrayPool repository.");

    public static readonly DiagnosticDescriptor ReturnedTwice = new(
        id: "NAP004",
        title: "A NativeBuffer is returned twice",
        messageFormat: "'{0}' was already returned or disposed on every path here: a second Return throws InvalidOperationException",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Warning,
        isEnabledByDefault: true,
        description: "Return each lease once. Dispose after Return is a harmless no-op; a second pool.Return is not. See docs/analyzers.md in the NativeArrayPool repository.");

    public static readonly DiagnosticDescriptor FieldInNonDisposable = new(
        id: "NAP005",
        title: "A public type holding a NativeBuffer field is not IDisposable",
        messageFormat: "'{0}' holds the lease '{1}' but does not implement IDisposable: its owner has no way to give the memory back",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Warning,
        isEnabledByDefault: true,
        description: "Implement IDisposable (or a public Dispose method on a ref struct) and return the lease there. See docs/analyzers.md in the NativeArrayPool repository.");
}
