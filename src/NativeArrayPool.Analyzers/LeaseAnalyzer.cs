using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace NativeBuffers.Analyzers;

/// <summary>
/// Finds lease bugs at compile time: leaks (NAP001), use after return (NAP002), spans and pointers used after their
/// lease was resized or returned (NAP003), double returns (NAP004), and leases held by types that cannot be disposed
/// (NAP005). Runs only in compilations that reference NativeArrayPool.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class LeaseAnalyzer : DiagnosticAnalyzer
{
    /// <inheritdoc />
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(
        LeaseDescriptors.LeaseLeaked,
        LeaseDescriptors.UseAfterReturn,
        LeaseDescriptors.StaleView,
        LeaseDescriptors.ReturnedTwice,
        LeaseDescriptors.FieldInNonDisposable);

    /// <inheritdoc />
    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            LeaseSymbols? symbols = LeaseSymbols.TryCreate(start.Compilation);
            if (symbols is null)
                return;
            start.RegisterOperationAction(
                body => AnalyzeBody(body, symbols),
                OperationKind.MethodBody, OperationKind.ConstructorBody);
            start.RegisterSymbolAction(type => AnalyzeType(type, symbols), SymbolKind.NamedType);
        });
    }

    private static void AnalyzeBody(OperationAnalysisContext context, LeaseSymbols symbols)
    {
        // Cheap filter first: most bodies never mention a lease.
        if (!context.Operation.Descendants().Any(o => o is ILocalReferenceOperation or IParameterReferenceOperation && symbols.IsLease(o.Type)))
            return;
        ControlFlowGraph cfg = context.Operation switch
        {
            IMethodBodyOperation method => ControlFlowGraph.Create(method, context.CancellationToken),
            IConstructorBodyOperation constructor => ControlFlowGraph.Create(constructor, context.CancellationToken),
            _ => null!,
        };
        if (cfg is null)
            return;
        LeaseFlowAnalysis.Run(cfg, symbols, context.ReportDiagnostic, context.CancellationToken);
    }

    private static void AnalyzeType(SymbolAnalysisContext context, LeaseSymbols symbols)
    {
        var type = (INamedTypeSymbol)context.Symbol;
        // Only types other assemblies can hold: their users have no way to give the memory back. A private or
        // internal carrier (a record of a lease and its bookkeeping) is owned by the code around it, which returns
        // the lease itself.
        if (type.TypeKind is not (TypeKind.Class or TypeKind.Struct) || !IsVisibleOutside(type) || IsDisposable(type, symbols))
            return;
        foreach (ISymbol member in type.GetMembers())
        {
            if (member is not IFieldSymbol { IsStatic: false, IsConst: false } field || !symbols.IsLease(field.Type))
                continue;
            // An auto-property's backing field is reported at the property.
            ISymbol declared = field.IsImplicitlyDeclared && field.AssociatedSymbol is not null ? field.AssociatedSymbol : field;
            Location? location = declared.Locations.FirstOrDefault(l => l.IsInSource);
            if (location is not null)
                context.ReportDiagnostic(Diagnostic.Create(LeaseDescriptors.FieldInNonDisposable, location, type.Name, declared.Name));
        }
    }

    private static bool IsVisibleOutside(INamedTypeSymbol type)
    {
        for (INamedTypeSymbol? t = type; t is not null; t = t.ContainingType)
        {
            if (t.DeclaredAccessibility is not (Accessibility.Public or Accessibility.Protected or Accessibility.ProtectedOrInternal))
                return false;
        }
        return true;
    }

    /// <summary>IDisposable, or (for a ref struct, which `using` accepts without the interface) a public Dispose().</summary>
    private static bool IsDisposable(INamedTypeSymbol type, LeaseSymbols symbols)
    {
        if (symbols.Disposable is not null && type.AllInterfaces.Contains(symbols.Disposable, SymbolEqualityComparer.Default))
            return true;
        return type.IsRefLikeType && type.GetMembers("Dispose").OfType<IMethodSymbol>().Any(m =>
            m.Parameters.Length == 0 && m.DeclaredAccessibility == Accessibility.Public && !m.IsStatic);
    }
}
