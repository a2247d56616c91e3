using SharpSeek.Formats;
using SkiaSharp;

namespace SharpSeek.Reporting;

/// <summary>Renders a ScottPlot chart to a PNG file, atomically (a reader never sees half an image).</summary>
public static class ChartFile
{
    public static void Save(ScottPlot.Plot plot, string path, int width, int height) =>
        Save(path, width, height, canvas => plot.Render(canvas, width, height));

    /// <summary>Several plots stacked in rows, one image.</summary>
    public static void Save(ScottPlot.Multiplot chart, string path, int width, int height) =>
        Save(path, width, height, canvas => chart.Render(canvas, new ScottPlot.PixelRect(0, width, height, 0)));

    private static void Save(string path, int width, int height, Action<SKCanvas> render)
    {
        using var surface = SKSurface.Create(new SKImageInfo(width, height));
        render(surface.Canvas);
        using var image = surface.Snapshot();
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        AtomicFile.WriteAllBytes(path, png.AsSpan());
    }

    /// <summary>Rows of plots as one chart.</summary>
    public static ScottPlot.Multiplot Rows(IReadOnlyList<ScottPlot.Plot> plots)
    {
        var chart = new ScottPlot.Multiplot(plots[0]);
        foreach (var p in plots.Skip(1)) chart.Subplots.Add(p);
        chart.Layout = new ScottPlot.MultiplotLayouts.Rows();
        return chart;
    }
}
