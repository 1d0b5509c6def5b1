select cast(day as date) as date_day
from generate_series(cast('2017-01-01' as date), cast('2019-12-31' as date), interval '1 day') as day
