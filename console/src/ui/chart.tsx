import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/**
 * A bar chart of counts over time (uPlot, bundled): it follows its box's width, so one chart
 * reads on a laptop and on a wall screen.
 */
export function CountChart({ label, x, y, color }: { label: string; x: number[]; y: number[]; color: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = box.current;
    if (!element) return undefined;
    const width = (): number => Math.max(240, element.clientWidth);
    const bars = uPlot.paths.bars?.({ size: [0.7, 40] });
    const plot = new uPlot(
      {
        width: width(),
        height: 180,
        legend: { show: false },
        cursor: { show: true, drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        axes: [{ stroke: '#8a94a6', grid: { stroke: '#e3e8ef' } }, { stroke: '#8a94a6', grid: { stroke: '#e3e8ef' }, size: 40 }],
        series: [{}, { label, stroke: color, fill: `${color}99`, width: 1, ...(bars ? { paths: bars } : {}), points: { show: false } }],
      },
      // an empty hour has no bar (a zero-height bar would draw as a dash on the axis)
      [x, y.map((count) => (count === 0 ? null : count))],
      element,
    );
    const resized = new ResizeObserver(() => plot.setSize({ width: width(), height: 180 }));
    resized.observe(element);
    return () => {
      resized.disconnect();
      plot.destroy();
    };
  }, [label, color, x.join(','), y.join(',')]);
  return <div class="chart" ref={box} role="img" aria-label={`${label} per hour, last 24 hours: ${y.reduce((a, b) => a + b, 0)} in all`} />;
}
